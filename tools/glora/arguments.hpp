#pragma once
// The arguments of one command: flags (--quiet), options with a value
// (--out PATH or --out=PATH) and positional arguments, checked against what
// the command takes.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace glora::cli {

class Arguments {
 public:
  /// Splits `args` (what follows the command's name). `command` names it in
  /// messages ("merge"); `flags` and `options` are the names it takes,
  /// without their dashes. Throws Failure (usage) for an unknown name, an
  /// option without its value, a flag with one, or an option given twice.
  Arguments(const std::string& command, const std::vector<std::string>& args,
            const std::set<std::string>& flags, const std::set<std::string>& options);

  bool flag(const std::string& name) const { return flags_.count(name) != 0; }
  /// The option's value, or nothing when it was not given.
  std::optional<std::string> option(const std::string& name) const;
  /// The option's value; throws Failure (usage) when it was not given.
  const std::string& required(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

  /// Throws Failure (usage) unless there are exactly `count` positional
  /// arguments; `what` names them ("one FILE_OR_FOLDER").
  void expect_positional(std::size_t count, const std::string& what) const;

 private:
  [[noreturn]] void usage(const std::string& what) const;

  std::string command_;
  std::set<std::string> flags_;
  std::map<std::string, std::string> options_;
  std::vector<std::string> positional_;
};

}  // namespace glora::cli
