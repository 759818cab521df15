// A small "--flag value" / "--flag=value" / "--switch" parser shared by ipcmesh-relay and
// ipcmeshctl. Usage mistakes come back as one readable line (the callers exit 2 with it).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

namespace ipcmesh::relay {

struct FlagSpec {
  std::string_view name;  // without the leading "--"
  bool takes_value = true;
};

class CommandLine {
 public:
  // Parses args (not including the program or subcommand name). Unknown flags, missing values and
  // stray positional arguments are usage errors.
  static tl::expected<CommandLine, std::string> parse(const std::vector<std::string>& args,
                                                      const std::vector<FlagSpec>& known);

  bool has(std::string_view name) const { return values_.contains(std::string(name)); }
  std::optional<std::string> value(std::string_view name) const;
  std::string value_or(std::string_view name, std::string_view fallback) const;
  // Integer values with range checks; the error names the flag.
  tl::expected<std::optional<long long>, std::string> integer(std::string_view name, long long min,
                                                              long long max) const;

 private:
  std::map<std::string, std::string, std::less<>> values_;
};

std::vector<std::string> to_args(int argc, char** argv, int first);

}  // namespace ipcmesh::relay
