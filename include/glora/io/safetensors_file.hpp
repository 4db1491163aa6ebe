#pragma once
// SafetensorsFile: a safetensors file opened for reading. The whole header is
// validated when the file is opened; tensors are then read zero-copy (their
// raw bytes in the memory map) or converted into Eigen storage.

#include <glora/io/convert.hpp>
#include <glora/io/dtype.hpp>
#include <glora/io/file_error.hpp>
#include <glora/io/mapped_file.hpp>
#include <glora/io/safetensors_header.hpp>
#include <glora/support.hpp>

#include <Eigen/Core>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace glora::io {

/// What to accept when converting tensors.
struct ReadOptions {
  /// NaN and infinity are refused by default (a file that holds them is
  /// almost always the trace of a diverged run); set to take them as they are.
  bool allow_non_finite = false;
};

/// A tensor's raw bytes inside the open file, with its dtype and shape.
struct TensorBytes {
  const TensorInfo* info;
  const unsigned char* data;  // info->bytes() bytes, little-endian, row-major, unaligned
};

/// A validated safetensors file. Movable; the bytes live as long as the object.
class SafetensorsFile {
 public:
  /// Opens and memory-maps `path`, then validates its header and offsets.
  /// Throws file_error for an unreadable file or any broken rule.
  explicit SafetensorsFile(const std::string& path, MapOptions map = {})
      : SafetensorsFile(std::make_unique<MappedFile>(path, map)) {}

  /// A file already in memory; `name` stands for its path in messages.
  static SafetensorsFile from_bytes(std::string name, std::vector<unsigned char> bytes) {
    auto owned = std::make_unique<Owned>();
    owned->name = std::move(name);
    owned->bytes = std::move(bytes);
    const unsigned char* data = owned->bytes.data();
    const std::size_t size = owned->bytes.size();
    const std::string path = owned->name;
    return SafetensorsFile(path, data, size, std::move(owned));
  }

  const std::string& path() const { return path_; }
  const Header& header() const { return header_; }
  /// Every tensor, in buffer order.
  const std::vector<TensorInfo>& tensors() const { return header_.tensors; }
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }

  /// The metadata value under `key`, or null.
  const std::string* find_metadata(const std::string& key) const {
    const auto it = header_.metadata.find(key);
    return it == header_.metadata.end() ? nullptr : &it->second;
  }

  /// The tensor called `name`, or null.
  const TensorInfo* find(std::string_view name) const {
    const auto it = index_.find(name);
    return it == index_.end() ? nullptr : &header_.tensors[it->second];
  }

  /// The tensor called `name`; throws file_error when there is none.
  const TensorInfo& at(std::string_view name) const {
    if (const TensorInfo* t = find(name)) return *t;
    detail::fail(path_, "has no tensor " + detail::quote(std::string(name)));
  }

  /// The tensor's bytes, zero-copy.
  TensorBytes bytes(const TensorInfo& t) const {
    return {&t, data_ + header_.buffer_offset + t.begin};
  }

  /// Gives back the memory of `n` bytes of the file from `first` (a pointer
  /// into a tensor's bytes) once they are used: see MappedFile::release. The
  /// bytes stay readable; touching them again reads them back.
  void release(const unsigned char* first, std::size_t n) const noexcept {
    if (keep_.map != nullptr && first >= data_) {
      keep_.map->release(static_cast<std::size_t>(first - data_), n);
    }
  }

  /// Reads a tensor of shape [rows, cols] (or [n]: n x 1, or []: 1 x 1) into
  /// column-major storage of exactly that many values, converting from F16,
  /// BF16, F32 or F64. Throws file_error for another dtype, more than two
  /// dimensions, or (unless allowed) a value that is not finite.
  template <typename T>
  void read_into(const TensorInfo& t, T* dst, const ReadOptions& options = {}) const {
    const auto [rows, cols] = matrix_shape(t);
    const bool finite = detail::convert_to_column_major(bytes(t).data, t.dtype, rows, cols, dst);
    if (!options.allow_non_finite && !finite) check_finite(t, dst, rows, cols);
  }

  /// The tensor as a rows x cols Eigen matrix (see read_into).
  template <typename T>
  MatrixX<T> matrix(const TensorInfo& t, const ReadOptions& options = {}) const {
    const auto [rows, cols] = matrix_shape(t);
    MatrixX<T> m(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
    read_into(t, m.data(), options);
    return m;
  }

  /// The tensor's rows and columns as a matrix: [r, c] -> r x c, [n] -> n x 1,
  /// [] -> 1 x 1. Throws file_error for a tensor that is not floating point or
  /// has more than two dimensions.
  std::pair<std::size_t, std::size_t> matrix_shape(const TensorInfo& t) const {
    if (!is_floating(t.dtype)) {
      detail::fail(path_, "tensor " + detail::quote(t.name) + " is " + dtype_name(t.dtype) +
                              "; only F16, BF16, F32 and F64 convert to floating point");
    }
    if (t.shape.size() > 2) {
      detail::fail(path_, "tensor " + detail::quote(t.name) + " has shape " +
                              shape_string(t.shape) + "; expected at most two dimensions");
    }
    const std::uint64_t rows = t.shape.empty() ? 1 : t.shape[0];
    const std::uint64_t cols = t.shape.size() == 2 ? t.shape[1] : 1;
    constexpr std::uint64_t limit = std::uint64_t(1) << 62;  // a zero extent lets the other be any
    if (rows > limit || cols > limit) {
      detail::fail(path_, "tensor " + detail::quote(t.name) + " has shape " +
                              shape_string(t.shape) + ", an extent over 2^62");
    }
    return {static_cast<std::size_t>(rows), static_cast<std::size_t>(cols)};
  }

 private:
  struct Owned {
    std::string name;
    std::vector<unsigned char> bytes;
  };
  struct Keep {
    std::unique_ptr<MappedFile> map;
    std::unique_ptr<Owned> owned;
  };

  explicit SafetensorsFile(std::unique_ptr<MappedFile> map)
      : SafetensorsFile(map->path(), map->data(), map->size(), std::move(map)) {}

  template <typename Storage>
  SafetensorsFile(std::string path, const unsigned char* data, std::size_t size,
                  std::unique_ptr<Storage>&& storage)
      : path_(std::move(path)), data_(data), header_(parse_header(data, size, path_)) {
    if constexpr (std::is_same_v<Storage, MappedFile>) {
      keep_.map = std::move(storage);
    } else {
      keep_.owned = std::move(storage);
    }
    for (std::size_t k = 0; k < header_.tensors.size(); ++k) {
      index_.emplace(header_.tensors[k].name, k);
    }
  }

  template <typename T>
  void check_finite(const TensorInfo& t, const T* values, std::size_t rows,
                    std::size_t cols) const {
    const std::size_t k = detail::first_non_finite(values, rows * cols);
    if (k == rows * cols) return;
    const std::size_t i = k % rows, j = k / rows;
    std::string where = t.shape.size() == 2
                            ? "[" + std::to_string(i) + ", " + std::to_string(j) + "]"
                        : t.shape.size() == 1 ? "[" + std::to_string(i) + "]"
                                              : std::string("[]");
    double stored = 0;  // a finite F64 that became infinite: too large for float
    if (t.dtype == DType::F64) {
      std::memcpy(&stored, bytes(t).data + 8 * (i * cols + j), sizeof stored);
    }
    std::ostringstream value;
    if (t.dtype == DType::F64 && std::isfinite(stored)) {
      value << stored << ", which overflows float,";
    } else {
      value << values[k];
    }
    detail::fail(path_, "tensor " + detail::quote(t.name) + " holds " + value.str() + " at " +
                            where +
                            " (values that are not finite are refused unless "
                            "allow_non_finite is set)");
  }

  std::string path_;
  const unsigned char* data_;
  Header header_;
  std::map<std::string, std::size_t, std::less<>> index_;
  Keep keep_;
};

}  // namespace glora::io
