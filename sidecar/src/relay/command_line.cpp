#include "relay/command_line.hpp"

#include <algorithm>
#include <charconv>

namespace ipcmesh::relay {

tl::expected<CommandLine, std::string> CommandLine::parse(const std::vector<std::string>& args,
                                                          const std::vector<FlagSpec>& known) {
  CommandLine result;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() < 3 || arg.rfind("--", 0) != 0) {
      return tl::unexpected("unexpected argument '" + arg + "' (flags start with --)");
    }
    std::string name = arg.substr(2);
    std::optional<std::string> inline_value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name.resize(eq);
    }
    auto spec = std::find_if(known.begin(), known.end(),
                             [&](const FlagSpec& flag) { return flag.name == name; });
    if (spec == known.end()) {
      return tl::unexpected("unknown flag --" + name + " (see --help)");
    }
    if (!spec->takes_value) {
      if (inline_value) {
        return tl::unexpected("flag --" + name + " takes no value");
      }
      result.values_[name] = "true";
      continue;
    }
    if (inline_value) {
      result.values_[name] = *inline_value;
    } else if (i + 1 < args.size()) {
      result.values_[name] = args[++i];
    } else {
      return tl::unexpected("flag --" + name + " needs a value");
    }
  }
  return result;
}

std::optional<std::string> CommandLine::value(std::string_view name) const {
  auto found = values_.find(name);
  if (found == values_.end()) {
    return std::nullopt;
  }
  return found->second;
}

std::string CommandLine::value_or(std::string_view name, std::string_view fallback) const {
  auto found = values_.find(name);
  return found == values_.end() ? std::string(fallback) : found->second;
}

tl::expected<std::optional<long long>, std::string> CommandLine::integer(std::string_view name,
                                                                         long long min,
                                                                         long long max) const {
  auto text = value(name);
  if (!text) {
    return std::optional<long long>{};
  }
  long long parsed = 0;
  const char* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, parsed);
  if (ec != std::errc() || ptr != end) {
    return tl::unexpected("--" + std::string(name) + ": '" + *text + "' is not an integer");
  }
  if (parsed < min || parsed > max) {
    return tl::unexpected("--" + std::string(name) + ": " + *text + " is outside " +
                          std::to_string(min) + ".." + std::to_string(max));
  }
  return std::optional<long long>{parsed};
}

std::vector<std::string> to_args(int argc, char** argv, int first) {
  std::vector<std::string> args;
  for (int i = first; i < argc; ++i) {
    args.emplace_back(argv[i]);
  }
  return args;
}

}  // namespace ipcmesh::relay
