#pragma once
// How the tool ends: the exit codes a script can rely on, and the error that
// carries one up to main(), which prints its message as one line on stderr.

#include <stdexcept>
#include <string>

namespace glora::cli {

/// The exit codes, as `glora --help` and the README list them.
enum class Exit : int {
  ok = 0,
  failed = 1,    ///< anything unforeseen (out of memory, a bug)
  usage = 2,     ///< an unknown command or option, a missing or extra argument
  missing = 3,   ///< an input file or folder does not exist
  broken = 4,    ///< an input breaks its format (the reader's message)
  mismatch = 5,  ///< an adapter layer without its base tensor, or with one of another shape
  dtype = 6,     ///< a base tensor in a dtype the merge cannot compute in
  exists = 7,    ///< the output exists and --force was not given
  write = 8,     ///< the output cannot be written
};

/// The one-line help of each exit code, for --help.
inline const char* exit_codes_help() {
  return "Exit codes:\n"
         "  0  success (a dry run that found every base tensor)\n"
         "  1  an unforeseen failure (out of memory, a bug)\n"
         "  2  wrong usage: an unknown command or option, a missing or extra argument\n"
         "  3  an input file or folder does not exist\n"
         "  4  an input is broken: a file that breaks its format (the reader's message)\n"
         "  5  an adapter layer has no base tensor, or one of another shape\n"
         "  6  a base tensor has a dtype the merge cannot compute in\n"
         "  7  the output exists (--force replaces it)\n"
         "  8  the output cannot be written\n"
         "Every failure prints one line on stderr and leaves no output behind.\n";
}

/// A failure with its exit code; the message is printed after "glora: ".
class Failure : public std::runtime_error {
 public:
  Failure(Exit code, const std::string& message) : std::runtime_error(message), code_(code) {}
  Exit code() const { return code_; }

 private:
  Exit code_;
};

}  // namespace glora::cli
