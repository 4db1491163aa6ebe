// glora: inspect GLoRA adapters and models, and merge an adapter into its base
// model, without Python. See `glora --help`.

#include "commands.hpp"
#include "failure.hpp"

#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <vector>

#ifndef GLORA_VERSION
#define GLORA_VERSION "unknown"
#endif

namespace {

using glora::cli::Exit;

const char* const overview =
    "Usage: glora COMMAND [options]\n"
    "\n"
    "Commands:\n"
    "  inspect FILE_OR_FOLDER   what an adapter or a model holds (--json for scripts)\n"
    "  merge --base BASE --adapter ADAPTER --out OUT\n"
    "                           fold a GLoRA adapter into its base model\n"
    "\n"
    "`glora COMMAND --help` describes a command; `glora --version` prints the version.\n"
    "\n";

bool asks_for_help(const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-h") return true;
    if (arg == "--") return false;
  }
  return false;
}

int run(const std::vector<std::string>& args) {
  if (args.empty()) {
    throw glora::cli::Failure(Exit::usage,
                              "no command given (the commands are inspect and merge; see glora "
                              "--help)");
  }
  const std::string& command = args.front();
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (command == "--help" || command == "-h" || command == "help") {
    std::printf("%s%s", overview, glora::cli::exit_codes_help());
    return 0;
  }
  if (command == "--version") {
    std::printf("glora %s\n", GLORA_VERSION);
    return 0;
  }
  if (command == "inspect" || command == "merge") {
    const bool inspect = command == "inspect";
    if (asks_for_help(rest)) {
      std::printf("%s\n%s", inspect ? glora::cli::inspect_help : glora::cli::merge_help,
                  glora::cli::exit_codes_help());
      return 0;
    }
    return inspect ? glora::cli::inspect_command(rest) : glora::cli::merge_command(rest);
  }
  throw glora::cli::Failure(Exit::usage, "unknown command \"" + command +
                                             "\" (the commands are inspect and merge; see "
                                             "glora --help)");
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return run(args);
  } catch (const glora::cli::Failure& e) {
    std::fprintf(stderr, "glora: %s\n", e.what());
    return static_cast<int>(e.code());
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "glora: out of memory\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "glora: %s\n", e.what());
  }
  return static_cast<int>(Exit::failed);
}
