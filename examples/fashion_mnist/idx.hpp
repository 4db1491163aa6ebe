#pragma once
// Reading the gzip-compressed IDX files that (Fashion-)MNIST ships as.
//
// An IDX file is a big-endian header followed by raw unsigned bytes:
//   images: magic 0x00000803, count, rows, cols, then count x rows x cols pixels
//   labels: magic 0x00000801, count, then count labels
// Every header field is checked, so a wrong, truncated or corrupt file stops
// the program with a message that names it instead of feeding it garbage.

#include <zlib.h>

#include <Eigen/Core>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace fmnist {

/// One image per column, its pixels row by row (the order of the file).
using PixelMatrix = Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic>;

/// A file that is missing, unreadable or not what its name says.
class IdxError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

/// A gzip file opened for reading (a plain, uncompressed file reads too).
class GzReader {
 public:
  explicit GzReader(std::string path) : path_(std::move(path)), file_(gzopen(path_.c_str(), "rb")) {
    if (file_ == nullptr) throw IdxError(path_ + ": cannot open");
  }
  ~GzReader() { gzclose(file_); }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  /// Reads exactly n bytes; `what` names them in the error message.
  void read(void* destination, std::size_t n, const std::string& what) {
    auto* out = static_cast<unsigned char*>(destination);
    while (n > 0) {
      // gzread takes an unsigned count, so read in chunks of at most 1 GiB.
      const auto chunk = static_cast<unsigned>(std::min<std::size_t>(n, std::size_t{1} << 30));
      const int got = gzread(file_, out, chunk);
      if (got < 0) {
        int code = 0;
        throw IdxError(path_ + ": " + gzerror(file_, &code) + " while reading " + what);
      }
      if (got == 0) throw IdxError(path_ + ": the file ends early, in the " + what);
      out += got;
      n -= static_cast<std::size_t>(got);
    }
  }

  std::uint32_t read_u32(const std::string& what) {
    unsigned char b[4];
    read(b, sizeof b, what);
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
           std::uint32_t{b[3]};
  }

  /// Whether anything follows what has been read so far.
  bool at_end() {
    unsigned char extra = 0;
    return gzread(file_, &extra, 1) == 0;
  }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  gzFile file_;
};

inline void expect(bool ok, const GzReader& file, const std::string& problem) {
  if (!ok) throw IdxError(file.path() + ": " + problem + " (not a Fashion-MNIST IDX file?)");
}

/// Reads the item count of the header and returns how many items to load.
inline Eigen::Index item_count(GzReader& file, Eigen::Index max_count) {
  const std::uint32_t count = file.read_u32("header (item count)");
  // 10 million is far above any MNIST-like set and keeps a corrupt count
  // from asking for gigabytes.
  expect(count > 0 && count <= 10'000'000, file, "implausible item count " + std::to_string(count));
  return max_count < 0 ? Eigen::Index{count} : std::min<Eigen::Index>(count, max_count);
}

/// After a full read (max_count negative) nothing may be left over.
inline void expect_end(GzReader& file, Eigen::Index max_count) {
  if (max_count < 0) expect(file.at_end(), file, "more data than the header announces");
}

}  // namespace detail

/// Reads the images of an IDX3 file: the first max_count (all if negative).
/// Each must be rows x cols pixels.
inline PixelMatrix read_idx_images(const std::string& path, Eigen::Index max_count,
                                   Eigen::Index rows, Eigen::Index cols) {
  detail::GzReader file(path);
  const std::uint32_t magic = file.read_u32("header (magic number)");
  detail::expect(magic == 0x00000803, file,
                 "magic number " + std::to_string(magic) + " is not 2051 (an IDX file of images)");
  const Eigen::Index count = detail::item_count(file, max_count);
  const std::uint32_t file_rows = file.read_u32("header (rows)");
  const std::uint32_t file_cols = file.read_u32("header (columns)");
  detail::expect(file_rows == rows && file_cols == cols, file,
                 "images are " + std::to_string(file_rows) + " x " + std::to_string(file_cols) +
                     ", expected " + std::to_string(rows) + " x " + std::to_string(cols));

  PixelMatrix pixels(rows * cols, count);
  file.read(pixels.data(), static_cast<std::size_t>(pixels.size()), "pixels");
  detail::expect_end(file, max_count);
  return pixels;
}

/// Reads the labels of an IDX1 file: the first max_count (all if negative).
/// Each must be below `classes`.
inline std::vector<int> read_idx_labels(const std::string& path, Eigen::Index max_count,
                                        int classes) {
  detail::GzReader file(path);
  const std::uint32_t magic = file.read_u32("header (magic number)");
  detail::expect(magic == 0x00000801, file,
                 "magic number " + std::to_string(magic) + " is not 2049 (an IDX file of labels)");
  const Eigen::Index count = detail::item_count(file, max_count);

  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(count));
  file.read(bytes.data(), bytes.size(), "labels");
  detail::expect_end(file, max_count);
  for (std::uint8_t label : bytes) {
    detail::expect(label < classes, file,
                   "label " + std::to_string(label) + " is not below " + std::to_string(classes));
  }
  return std::vector<int>(bytes.begin(), bytes.end());
}

}  // namespace fmnist
