#pragma once
// The tool's commands. Each takes the arguments after its name, prints its
// result on stdout, and returns the exit code; failures are thrown as Failure.

#include <string>
#include <vector>

namespace glora::cli {

/// `glora inspect [--json] FILE_OR_FOLDER`
int inspect_command(const std::vector<std::string>& args);
extern const char* const inspect_help;

/// `glora merge --base BASE --adapter ADAPTER --out OUT [options]`
int merge_command(const std::vector<std::string>& args);
extern const char* const merge_help;

}  // namespace glora::cli
