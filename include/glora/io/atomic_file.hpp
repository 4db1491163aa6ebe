#pragma once
// AtomicFile: a file that appears at its path complete or not at all. Bytes go
// to a temporary file in the same folder, which is flushed to the device and
// renamed over the target only when the caller commits; on any failure (or
// without a commit) the temporary is removed and the target is untouched.

#include <glora/io/file_error.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace glora::io {

class AtomicFile {
 public:
  /// Creates the temporary file next to `path`. Throws file_error (naming
  /// `path` and the system's reason) when it cannot, e.g. when the folder
  /// does not exist.
  explicit AtomicFile(std::string path) : path_(std::move(path)) {
    if (path_.empty() || path_.back() == '/') detail::fail(path_, "is not a file name");
    const std::size_t slash = path_.rfind('/');
    const std::string folder = slash == std::string::npos ? "" : path_.substr(0, slash + 1);
    const std::string base = slash == std::string::npos ? path_ : path_.substr(slash + 1);
    static std::atomic<unsigned> counter{0};
    for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
      temp_ = folder + "." + base + ".tmp" + std::to_string(::getpid()) + "-" +
              std::to_string(counter++);
      fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ < 0 && errno != EEXIST) break;
    }
    if (fd_ < 0) system_error("cannot create a temporary file in its folder");
  }

  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() { discard(); }

  const std::string& path() const { return path_; }
  /// Bytes written so far.
  std::size_t size() const { return written_; }

  /// Appends n bytes. Throws file_error (and discards the temporary) when the
  /// device refuses them: full, over a size limit, I/O error.
  void write(const void* bytes, std::size_t n) {
    const auto* p = static_cast<const char*>(bytes);
    while (n > 0) {
      const ssize_t done = ::write(fd_, p, std::min(n, max_write));
      if (done < 0 && errno == EINTR) continue;
      if (done <= 0) {
        if (done == 0) errno = ENOSPC;
        fail_and_discard("writing failed after " + std::to_string(written_) + " bytes");
      }
      p += done;
      n -= static_cast<std::size_t>(done);
      written_ += static_cast<std::size_t>(done);
    }
    start_writeback();
  }

  /// Flushes the bytes to the device and renames the temporary over the
  /// target. Throws file_error (target untouched, temporary removed) on failure,
  /// e.g. when the target is a directory.
  void commit() {
    if (::fsync(fd_) != 0) fail_and_discard("flushing to the device failed");
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail_and_discard("closing the temporary file failed");
    if (::rename(temp_.c_str(), path_.c_str()) != 0) fail_and_discard("cannot replace the target");
    temp_.clear();
  }

 private:
  [[noreturn]] void system_error(const std::string& what) const {
    detail::fail(path_, what + ": " + std::strerror(errno));
  }
  [[noreturn]] void fail_and_discard(const std::string& what) {
    const int error = errno;
    discard();
    errno = error;
    system_error(what);
  }
  /// Every `writeback_interval` bytes, starts writing the new ones to the
  /// device (without waiting): a large file then reaches the device while the
  /// rest is produced, so commit() waits only for the last part, and the
  /// system does not pile up gigabytes of unwritten pages.
  void start_writeback() noexcept {
#if defined(__linux__)
    if (written_ - started_ < writeback_interval) return;
    ::sync_file_range(fd_, static_cast<off_t>(started_), static_cast<off_t>(written_ - started_),
                      SYNC_FILE_RANGE_WRITE);
    started_ = written_;
#endif
  }

  void discard() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (!temp_.empty()) ::unlink(temp_.c_str());
    temp_.clear();
  }

  std::string path_;
  std::string temp_;
  static constexpr std::size_t writeback_interval = std::size_t(16) << 20;
  /// The largest write() call, so that one call never commits more than a
  /// small part of the 16 MB between two writebacks. It is not a measured
  /// speed-up: writing 1 GB with fsync in calls of 256 KB, 4 MB and 64 MB
  /// showed no consistent difference (bench/README.md, "The glora tool").
  static constexpr std::size_t max_write = std::size_t(256) << 10;

  int fd_ = -1;
  std::size_t written_ = 0;
  std::size_t started_ = 0;  // bytes whose writeback has been started
};

}  // namespace glora::io
