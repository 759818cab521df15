#include "relay/duration.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <utility>

namespace ipcmesh::relay {

tl::expected<std::chrono::nanoseconds, std::string> parse_duration(std::string_view text) {
  static constexpr std::pair<std::string_view, double> kUnits[] = {
      {"ns", 1.0}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
  const std::string quoted = "'" + std::string(text) + "'";
  std::size_t digits_end = 0;
  while (digits_end < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[digits_end])) || text[digits_end] == '.')) {
    ++digits_end;
  }
  if (digits_end == 0) {
    return tl::unexpected(quoted + " is not a duration (e.g. 30s, 500ms, 2m)");
  }
  const std::string number(text.substr(0, digits_end));
  char* end = nullptr;
  const double value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size() || !std::isfinite(value)) {
    return tl::unexpected(quoted + " is not a duration (e.g. 30s, 500ms, 2m)");
  }
  const std::string_view unit = text.substr(digits_end);
  double scale = 0.0;
  if (unit.empty()) {
    scale = 1e9;  // plain numbers are seconds
  }
  for (const auto& [suffix, factor] : kUnits) {
    if (unit == suffix) {
      scale = factor;
    }
  }
  if (scale == 0.0) {
    return tl::unexpected(quoted + ": unknown unit '" + std::string(unit) +
                          "' (use ns, us, ms, s, m or h)");
  }
  const double nanos = value * scale;
  if (nanos > 9.0e18) {
    return tl::unexpected(quoted + " is too long");
  }
  return std::chrono::nanoseconds(static_cast<long long>(nanos));
}

std::string format_duration(std::chrono::nanoseconds value) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(value).count();
  if (ms % 1000 == 0) {
    return std::to_string(ms / 1000) + "s";
  }
  return std::to_string(ms) + "ms";
}

}  // namespace ipcmesh::relay
