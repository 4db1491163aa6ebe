#include "output.hpp"

#include "failure.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace glora::cli {

namespace fs = std::filesystem;

namespace {

/// `path` without trailing slashes, so that "out/" and "out" name the same folder.
std::string trimmed(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

/// A name beside `path` that nothing uses: ".<name>.<what><pid>-<n>".
std::string beside(const std::string& path, const char* what) {
  const fs::path p(path);
  static unsigned counter = 0;
  for (;;) {
    fs::path candidate =
        p.parent_path() / ("." + p.filename().string() + "." + what + std::to_string(::getpid()) +
                           "-" + std::to_string(counter++));
    std::error_code ignored;
    if (!fs::exists(fs::symlink_status(candidate, ignored))) return candidate.string();
  }
}

[[noreturn]] void cannot(const std::string& path, const std::string& what, int error) {
  throw Failure(Exit::write, path + ": " + what + ": " + std::strerror(error));
}

}  // namespace

void check_output(const std::string& path, bool folder, bool force) {
  std::error_code ignored;
  const fs::file_status status = fs::status(path, ignored);
  if (!fs::exists(status)) return;
  if (!folder && fs::is_directory(status)) {
    throw Failure(Exit::exists, "--out " + path +
                                    " is a folder; the merged model of a single-file base is a "
                                    "file (name one)");
  }
  if (!force) throw Failure(Exit::exists, "--out " + path + " exists (--force replaces it)");
}

AtomicFolder::AtomicFolder(const std::string& path)
    : path_(trimmed(path)), temp_(beside(path_, "tmp")) {
  if (::mkdir(temp_.c_str(), 0777) != 0) {
    cannot(path_, "cannot create a temporary folder beside it", errno);
  }
}

AtomicFolder::~AtomicFolder() {
  if (temp_.empty()) return;
  std::error_code ignored;
  fs::remove_all(temp_, ignored);
}

std::string AtomicFolder::file(const std::string& name) const {
  return (fs::path(temp_) / name).string();
}

std::string AtomicFolder::as_final(std::string message) const {
  for (std::size_t at = message.find(temp_); !temp_.empty() && at != std::string::npos;
       at = message.find(temp_, at + path_.size())) {
    message.replace(at, temp_.size(), path_);
  }
  return message;
}

void AtomicFolder::commit() {
  const int fd = ::open(temp_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    const int error = errno;
    if (fd >= 0) ::close(fd);
    cannot(path_, "flushing the folder failed", error);
  }
  ::close(fd);
  std::error_code ignored;
  std::string old;
  if (fs::exists(fs::symlink_status(path_, ignored))) {
    old = beside(path_, "old");
    if (::rename(path_.c_str(), old.c_str()) != 0) cannot(path_, "cannot move it aside", errno);
  }
  if (::rename(temp_.c_str(), path_.c_str()) != 0) {
    const int error = errno;
    if (!old.empty()) ::rename(old.c_str(), path_.c_str());
    cannot(path_, "cannot rename the finished folder into place", error);
  }
  temp_.clear();
  if (!old.empty()) fs::remove_all(old, ignored);
}

}  // namespace glora::cli
