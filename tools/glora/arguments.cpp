#include "arguments.hpp"

#include "failure.hpp"

namespace glora::cli {

Arguments::Arguments(const std::string& command, const std::vector<std::string>& args,
                     const std::set<std::string>& flags, const std::set<std::string>& options)
    : command_(command) {
  bool only_positional = false;  // after "--"
  for (std::size_t k = 0; k < args.size(); ++k) {
    const std::string& arg = args[k];
    if (only_positional || arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      if (!only_positional && arg == "--") {
        only_positional = true;
      } else if (!only_positional && arg.size() > 1 && arg[0] == '-') {
        usage("unknown option " + arg);
      } else {
        positional_.push_back(arg);
      }
      continue;
    }
    const std::size_t equals = arg.find('=');
    const std::string name =
        arg.substr(2, equals == std::string::npos ? std::string::npos : equals - 2);
    if (flags.count(name) != 0) {
      if (equals != std::string::npos) usage("--" + name + " takes no value");
      flags_.insert(name);
    } else if (options.count(name) != 0) {
      std::string value;
      if (equals != std::string::npos) {
        value = arg.substr(equals + 1);
      } else if (k + 1 < args.size()) {
        value = args[++k];
      } else {
        usage("--" + name + " needs a value");
      }
      if (!options_.emplace(name, value).second) usage("--" + name + " is given twice");
    } else {
      usage("unknown option --" + name);
    }
  }
}

std::optional<std::string> Arguments::option(const std::string& name) const {
  const auto it = options_.find(name);
  if (it == options_.end()) return std::nullopt;
  return it->second;
}

const std::string& Arguments::required(const std::string& name) const {
  const auto it = options_.find(name);
  if (it == options_.end()) usage("--" + name + " is required");
  return it->second;
}

void Arguments::expect_positional(std::size_t count, const std::string& what) const {
  if (positional_.size() < count) usage("expected " + what);
  if (positional_.size() > count) {
    usage("unexpected argument " + positional_[count] + " (expected " + what + ")");
  }
}

void Arguments::usage(const std::string& what) const {
  throw Failure(Exit::usage, command_ + ": " + what + " (see glora " + command_ + " --help)");
}

}  // namespace glora::cli
