#pragma once
// SafetensorsWriter: writes a safetensors file as a stream. The tensors'
// names, dtypes and shapes are declared up front (they fix the header); their
// values are then written one tensor at a time, in the declared order, so that
// a model larger than memory can be written a layer at a time. The file
// appears at its path only on commit() (see AtomicFile).

#include <glora/io/atomic_file.hpp>
#include <glora/io/convert.hpp>
#include <glora/io/dtype.hpp>
#include <glora/io/file_error.hpp>
#include <glora/io/linkage.hpp>
#include <glora/io/safetensors_header.hpp>

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace glora::io {

/// A tensor to be written: its name, dtype and PyTorch shape.
struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::uint64_t> shape;
};

class SafetensorsWriter {
 public:
  /// Validates the declarations, lays the tensors out contiguously in the
  /// given order, and writes the header (JSON padded with spaces to a
  /// multiple of 8 bytes) to a temporary file next to `path`. Throws
  /// std::invalid_argument for a name used twice or "__metadata__", and
  /// file_error when the temporary file cannot be written.
  SafetensorsWriter(const std::string& path, std::vector<TensorSpec> tensors,
                    const std::map<std::string, std::string>& metadata = {});

  const std::string& path() const { return file_->path(); }
  const std::vector<TensorSpec>& tensors() const { return tensors_; }
  /// The index of the tensor that write_matrix writes next (tensors().size() after the last).
  std::size_t next() const { return next_; }

  /// Appends raw bytes (little-endian, row-major) of the current tensor(s).
  /// Throws std::logic_error when they run past the last declared tensor.
  void write(const void* bytes, std::size_t n) {
    const std::uint64_t total = ends_.empty() ? 0 : ends_.back();
    if (n > total - position()) {
      throw std::logic_error("glora::io::SafetensorsWriter: " + path() + ": " + std::to_string(n) +
                             " bytes would run past the declared tensors");
    }
    file_->write(bytes, n);
    if (n > 0) {
      next_ = static_cast<std::size_t>(
          std::lower_bound(begins_.begin(), begins_.end(), position()) - begins_.begin());
    }
  }

  /// Appends n values to the tensor being written (the one the next byte
  /// belongs to), converted to its declared dtype (F16 and BF16 rounded to
  /// nearest even): the whole tensor, or one part of it after another, so
  /// that a tensor larger than memory is written a block of rows at a time.
  /// Throws std::logic_error when that tensor is not F16, BF16, F32 or F64,
  /// or when the values run past its end.
  template <typename T>
  void write_values(const T* values, std::size_t n) {
    const std::uint64_t at = position();
    const std::size_t k =
        static_cast<std::size_t>(std::upper_bound(ends_.begin(), ends_.end(), at) - ends_.begin());
    const auto fail = [this](const std::string& what) {
      throw std::logic_error("glora::io::SafetensorsWriter::write_values: " + path() + ": " + what);
    };
    const auto more = [n] { return std::to_string(n) + (n == 1 ? " value" : " values"); };
    if (k == tensors_.size())
      fail("the declared tensors are all written; " + more() + " more given");
    const TensorSpec& t = tensors_[k];
    if (!is_floating(t.dtype)) {
      fail("tensor " + detail::quote(t.name) + " is " + dtype_name(t.dtype) +
           ", not F16, BF16, F32 or F64");
    }
    const std::uint64_t left = (ends_[k] - at) / dtype_size(t.dtype);
    if (n > left) {
      fail("tensor " + detail::quote(t.name) + " has " + std::to_string(left) + " values left, " +
           more() + " given");
    }
    const DType dtype = t.dtype;
    if (dtype == dtype_of<T>()) return write(values, n * sizeof(T));  // stored as they are
    // Through a small buffer: bounded memory however many values come.
    constexpr std::size_t block = 1 << 16;
    buffer_.resize(std::min(n, block) * dtype_size(dtype));
    for (std::size_t done = 0; done < n; done += block) {
      const std::size_t count = std::min(block, n - done);
      encode_values(values + done, count, dtype, buffer_.data());
      write(buffer_.data(), count * dtype_size(dtype));
    }
  }

  /// Writes the next tensor from an Eigen matrix m: its PyTorch shape must
  /// hold m.rows() x m.cols() values ([rows, cols], or [n] / [] for a vector
  /// or one value), written row-major in the declared dtype (F16 and BF16
  /// rounded to nearest even). Throws std::logic_error when the next tensor
  /// has another element count or is not F16, BF16, F32 or F64.
  template <typename Derived>
  void write_matrix(const Eigen::DenseBase<Derived>& m) {
    const std::size_t k = next_;
    if (k == tensors_.size() || position() != begins_[k] || !is_floating(tensors_[k].dtype) ||
        TensorInfo{"", tensors_[k].dtype, tensors_[k].shape, 0, 0}.elements() !=
            static_cast<std::uint64_t>(m.size())) {
      throw std::logic_error("glora::io::SafetensorsWriter::write_matrix: " + path() +
                             ": the matrix is not the next declared tensor (" +
                             std::to_string(m.rows()) + " x " + std::to_string(m.cols()) +
                             " values)");
    }
    using T = typename Derived::Scalar;
    // Rows go out in blocks through a small row-major buffer: bounded memory
    // whatever the storage order of m.
    const Eigen::Index block =
        std::max<Eigen::Index>(1, (1 << 16) / std::max<Eigen::Index>(1, m.cols()));
    Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows;
    for (Eigen::Index r = 0; r < m.rows(); r += block) {
      const Eigen::Index n = std::min(block, m.rows() - r);
      rows = m.derived().middleRows(r, n);
      write_values(rows.data(), static_cast<std::size_t>(rows.size()));
    }
    next_ = k + 1;
  }

  /// Checks that every declared byte was written, then makes the file appear
  /// at its path. Throws std::logic_error when tensors are missing, file_error
  /// when the file system refuses.
  void commit() {
    const std::uint64_t total = ends_.empty() ? 0 : ends_.back();
    if (position() != total) {
      throw std::logic_error("glora::io::SafetensorsWriter::commit: " + path() + ": " +
                             std::to_string(total - position()) +
                             " bytes of the declared tensors were not written");
    }
    file_->commit();
  }

 private:
  static std::uint64_t byte_size(const std::string& path, const TensorSpec& t) {
    std::uint64_t bytes = dtype_size(t.dtype);
    for (const std::uint64_t d : t.shape) {
      if (d != 0 && bytes > UINT64_MAX / d) {
        throw std::invalid_argument("glora::io::SafetensorsWriter: " + path + ": tensor " +
                                    detail::quote(t.name) + ": the size of " +
                                    shape_string(t.shape) + " overflows 64 bits");
      }
      bytes *= d;
    }
    return bytes;
  }

  std::uint64_t position() const { return file_->size() - start_; }

  std::vector<TensorSpec> tensors_;
  std::vector<std::uint64_t> begins_, ends_;  // each tensor's offsets in the buffer
  std::size_t next_ = 0;
  std::unique_ptr<AtomicFile> file_;
  std::vector<unsigned char> buffer_;  // values being converted to their dtype
  std::size_t start_ = 0;
};

}  // namespace glora::io

// The definitions of the functions declared above (see linkage.hpp).
#if GLORA_IO_DEFINE
namespace glora::io {

GLORA_IO_INLINE SafetensorsWriter::SafetensorsWriter(
    const std::string& path, std::vector<TensorSpec> tensors,
    const std::map<std::string, std::string>& metadata)
    : tensors_(std::move(tensors)) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> names;
  std::uint64_t offset = 0;
  for (const TensorSpec& t : tensors_) {
    if (t.name == "__metadata__" || !names.insert(t.name).second) {
      throw std::invalid_argument("glora::io::SafetensorsWriter: " + path + ": the tensor name " +
                                  detail::quote(t.name) +
                                  (t.name == "__metadata__" ? " is reserved" : " is used twice"));
    }
    const std::uint64_t bytes = byte_size(path, t);
    begins_.push_back(offset);
    ends_.push_back(offset + bytes);
    header[t.name] = {{"dtype", dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  unsigned char length[8];
  for (int k = 0; k < 8; ++k) length[k] = static_cast<unsigned char>(text.size() >> (8 * k));
  file_ = std::make_unique<AtomicFile>(path);
  file_->write(length, 8);
  file_->write(text.data(), text.size());
  start_ = file_->size();
}

}  // namespace glora::io
#endif  // GLORA_IO_DEFINE
