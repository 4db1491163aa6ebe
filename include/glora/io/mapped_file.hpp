#pragma once
// MappedFile: the bytes of a file, read-only, memory-mapped where the system
// allows it (POSIX) and read once into memory otherwise (pipes, special files).

#include <glora/io/file_error.hpp>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace glora::io {

/// How a file's bytes are brought in.
struct MapOptions {
  /// Fault the whole mapping in at once (MAP_POPULATE): faster when every
  /// byte is used soon, as in loading an adapter; leave it off to touch a few
  /// tensors of a large model file.
  bool populate = false;
};

/// The bytes of a file for as long as the object lives. Movable, not copyable.
class MappedFile {
 public:
  MappedFile() = default;

  /// Throws file_error naming the path and the system's reason when the file
  /// cannot be opened or read.
  explicit MappedFile(const std::string& path, MapOptions options = {}) : path_(path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) system_error("cannot open the file");
    struct stat st {};
    if (::fstat(fd, &st) != 0) close_and_fail(fd, "cannot read its size");
    if (S_ISDIR(st.st_mode)) {
      ::close(fd);
      detail::fail(path_, "is a directory, not a file");
    }
    if (S_ISREG(st.st_mode) && st.st_size > 0) {
      size_ = static_cast<std::size_t>(st.st_size);
      const int flags = MAP_PRIVATE | (options.populate ? MAP_POPULATE : 0);
      void* p = ::mmap(nullptr, size_, PROT_READ, flags, fd, 0);
      if (p != MAP_FAILED) {
        ::close(fd);
        map_ = p;
        data_ = static_cast<const unsigned char*>(p);
        return;
      }
    }
    read_all(fd);  // empty, special or unmappable: read once
    ::close(fd);
  }

  MappedFile(MappedFile&& other) noexcept { *this = std::move(other); }
  MappedFile& operator=(MappedFile&& other) noexcept {
    if (this != &other) {
      unmap();
      path_ = std::move(other.path_);
      buffer_ = std::move(other.buffer_);
      map_ = std::exchange(other.map_, nullptr);
      size_ = std::exchange(other.size_, 0);
      data_ = map_ ? std::exchange(other.data_, nullptr) : buffer_.data();
      other.data_ = nullptr;
    }
    return *this;
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() { unmap(); }

  const std::string& path() const { return path_; }
  const unsigned char* data() const { return data_; }
  std::size_t size() const { return size_; }

  /// Gives back the memory of the bytes [offset, offset + length) once they
  /// have been used, so that a pass over a file larger than memory keeps only
  /// what it is working on: the pages that hold them (rounded out to whole
  /// pages) leave the process; the system's page cache keeps the file, and
  /// touching the bytes again reads them back, unchanged. No effect on a file
  /// that was read into memory rather than mapped.
  void release(std::size_t offset, std::size_t length) const noexcept {
    if (map_ == nullptr || offset >= size_ || length == 0) return;
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const std::size_t begin = offset / page * page;
    const std::size_t end = std::min(size_, offset + std::min(length, size_ - offset));
    // MADV_DONTNEED on a private, never-written file mapping drops the pages
    // from this process only; the next access maps the file's pages again.
    ::madvise(static_cast<unsigned char*>(map_) + begin, end - begin, MADV_DONTNEED);
  }

 private:
  [[noreturn]] void system_error(const char* what) const {
    detail::fail(path_, std::string(what) + ": " + std::strerror(errno));
  }
  [[noreturn]] void close_and_fail(int fd, const char* what) const {
    const int error = errno;
    ::close(fd);
    errno = error;
    system_error(what);
  }

  void read_all(int fd) {
    std::size_t used = 0;
    buffer_.resize(1 << 16);
    for (;;) {
      if (used == buffer_.size()) buffer_.resize(buffer_.size() * 2);
      const ssize_t n = ::read(fd, buffer_.data() + used, buffer_.size() - used);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) close_and_fail(fd, "cannot read the file");
      if (n == 0) break;
      used += static_cast<std::size_t>(n);
    }
    buffer_.resize(used);
    size_ = used;
    data_ = buffer_.data();
  }

  void unmap() {
    if (map_ != nullptr) ::munmap(map_, size_);
    map_ = nullptr;
    data_ = nullptr;
    size_ = 0;
  }

  std::string path_;
  std::vector<unsigned char> buffer_;
  void* map_ = nullptr;
  const unsigned char* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace glora::io
