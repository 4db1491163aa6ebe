#pragma once
// glora::file_error: what every reader and writer of files throws.

#include <stdexcept>
#include <string>

namespace glora {

/// Thrown when a file cannot be read or written, or breaks a rule of its
/// format. The message starts with the file's path and names the tensor (where
/// there is one) and the rule that was broken, with byte offsets where they help.
class file_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace io::detail {

/// "<path>: <what>": every message names the file first.
[[noreturn]] inline void fail(const std::string& path, const std::string& what) {
  throw file_error(path + ": " + what);
}

/// The quoted form used for tensor and layer names in messages.
inline std::string quote(const std::string& name) { return "\"" + name + "\""; }

}  // namespace io::detail
}  // namespace glora
