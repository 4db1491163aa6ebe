#pragma once
// Where a merge writes: a file (made atomic by the library's writer) or a
// folder of shards, which must appear complete or not at all.

#include <string>

namespace glora::cli {

/// Throws Failure (exists) when `path` exists and `force` is not set, and
/// when a file would replace a folder (`folder` false) even with `force`.
void check_output(const std::string& path, bool folder, bool force);

/// A folder that appears at its path complete or not at all: its files are
/// written into a temporary folder beside it (".<name>.tmp<pid>-<n>"), which
/// commit() renames into place; without a commit (a failure on the way) the
/// temporary folder and everything in it is removed.
class AtomicFolder {
 public:
  /// Creates the temporary folder. Throws Failure (write) when it cannot.
  explicit AtomicFolder(const std::string& path);
  ~AtomicFolder();
  AtomicFolder(const AtomicFolder&) = delete;
  AtomicFolder& operator=(const AtomicFolder&) = delete;

  /// The path to write the file `name` at (inside the temporary folder).
  std::string file(const std::string& name) const;
  /// `message` with the temporary folder's path replaced by the folder's own,
  /// so that an error names the file the user asked for.
  std::string as_final(std::string message) const;

  /// Flushes the folder and renames it into place, replacing what is at the
  /// path (a folder or file; checked by check_output beforehand). Throws
  /// Failure (write) when the file system refuses; the path then holds what
  /// it held before.
  void commit();

 private:
  std::string path_;
  std::string temp_;
};

}  // namespace glora::cli
