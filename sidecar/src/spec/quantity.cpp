// Kubernetes resource quantities (k8s.io/apimachinery/pkg/api/resource), restricted to whole,
// non-negative byte counts that fit in 64 bits.
//
//   quantity  ::= [+] digits [ "." digits ] [ suffix ] | [+] "." digits [ suffix ]
//   suffix    ::= "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei"        (binary, 1024^n)
//               | "k" | "M" | "G" | "T" | "P" | "E"              (decimal, 1000^n)
//               | ("e" | "E") [+|-] digits                       (decimal exponent)
//
// Kubernetes also accepts "n", "u" and "m" (fractions) and negative numbers; a size cannot be
// either, so both are refused with a message that says why.
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "ipcmesh/channel_spec.hpp"

namespace ipcmesh {
namespace {

using u128 = unsigned __int128;

constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();
// 38 significant digits always fit in 128 bits (10^38 < 2^127).
constexpr std::size_t kMaxSignificantDigits = 38;
constexpr int kMaxExponent = 1000;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

tl::unexpected<Error> quantity_error(std::string_view text, std::string_view why) {
  std::string message = "\"";
  message.append(text).append("\" is not a valid quantity: ").append(why);
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

}  // namespace

Result<std::uint64_t> parse_quantity(std::string_view text) {
  if (text.empty()) return quantity_error(text, "empty");
  std::size_t i = 0;
  if (text[0] == '-') {
    return quantity_error(text, "sizes cannot be negative");
  }
  if (text[0] == '+') ++i;

  // Significant digits (integer and fraction parts concatenated) and the power of ten they carry.
  std::string digits;
  int exponent10 = 0;
  std::size_t digit_count = 0;
  for (; i < text.size() && is_digit(text[i]); ++i, ++digit_count) digits.push_back(text[i]);
  if (i < text.size() && text[i] == '.') {
    ++i;
    for (; i < text.size() && is_digit(text[i]); ++i, ++digit_count) {
      digits.push_back(text[i]);
      --exponent10;
    }
  }
  if (digit_count == 0) return quantity_error(text, "expected a number such as 64Mi or 4096");

  std::string_view suffix = text.substr(i);
  int binary_shift = 0;  // power of two from a binary suffix
  if (suffix.empty()) {
  } else if (suffix == "Ki") {
    binary_shift = 10;
  } else if (suffix == "Mi") {
    binary_shift = 20;
  } else if (suffix == "Gi") {
    binary_shift = 30;
  } else if (suffix == "Ti") {
    binary_shift = 40;
  } else if (suffix == "Pi") {
    binary_shift = 50;
  } else if (suffix == "Ei") {
    binary_shift = 60;
  } else if (suffix == "k") {
    exponent10 += 3;
  } else if (suffix == "M") {
    exponent10 += 6;
  } else if (suffix == "G") {
    exponent10 += 9;
  } else if (suffix == "T") {
    exponent10 += 12;
  } else if (suffix == "P") {
    exponent10 += 15;
  } else if (suffix == "E") {
    exponent10 += 18;
  } else if (suffix == "m" || suffix == "u" || suffix == "n") {
    return quantity_error(text, "milli, micro and nano units are fractions of a byte");
  } else if (suffix[0] == 'e' || suffix[0] == 'E') {
    std::size_t j = 1;
    bool negative = false;
    if (j < suffix.size() && (suffix[j] == '+' || suffix[j] == '-')) {
      negative = suffix[j] == '-';
      ++j;
    }
    if (j == suffix.size()) return quantity_error(text, "the exponent has no digits");
    int exponent = 0;
    for (; j < suffix.size(); ++j) {
      if (!is_digit(suffix[j])) {
        return quantity_error(text, "unknown suffix \"" + std::string(suffix) + "\"");
      }
      exponent = exponent * 10 + (suffix[j] - '0');
      if (exponent > kMaxExponent) return quantity_error(text, "the exponent is out of range");
    }
    exponent10 += negative ? -exponent : exponent;
  } else {
    return quantity_error(
        text, "unknown suffix \"" + std::string(suffix) +
                  "\" (use Ki, Mi, Gi, Ti, Pi, Ei, k, M, G, T, P, E or an exponent like 1e3)");
  }

  // Normalise: drop leading zeros, move trailing zeros into the exponent.
  std::size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return std::uint64_t{0};
  digits.erase(0, first);
  while (digits.back() == '0') {
    digits.pop_back();
    ++exponent10;
  }
  if (digits.size() > kMaxSignificantDigits) {
    return quantity_error(text, "too many significant digits");
  }
  u128 value = 0;
  for (char c : digits) value = value * 10 + static_cast<unsigned>(c - '0');

  const auto overflow = [&] { return quantity_error(text, "larger than 2^64-1 bytes"); };
  if (exponent10 < 0) {
    // value * 2^shift / (2^k * 5^k) must be whole: cancel twos first, then divide exactly.
    int fives = -exponent10;
    int twos = -exponent10;
    const int cancelled = std::min(twos, binary_shift);
    twos -= cancelled;
    binary_shift -= cancelled;
    for (; fives > 0; --fives) {
      if (value % 5 != 0) return quantity_error(text, "not a whole number of bytes");
      value /= 5;
    }
    for (; twos > 0; --twos) {
      if (value % 2 != 0) return quantity_error(text, "not a whole number of bytes");
      value /= 2;
    }
  }
  if (value > kU64Max) return overflow();
  for (int k = 0; k < exponent10; ++k) {
    value *= 10;
    if (value > kU64Max) return overflow();
  }
  for (int k = 0; k < binary_shift; ++k) {
    value <<= 1;
    if (value > kU64Max) return overflow();
  }
  return static_cast<std::uint64_t>(value);
}

std::string format_quantity(std::uint64_t bytes) {
  static constexpr std::string_view kSuffixes[] = {"Ei", "Pi", "Ti", "Gi", "Mi", "Ki"};
  if (bytes == 0) return "0";
  int shift = 60;
  for (std::string_view suffix : kSuffixes) {
    const std::uint64_t unit = std::uint64_t{1} << shift;
    if (bytes % unit == 0) return std::to_string(bytes / unit) + std::string(suffix);
    shift -= 10;
  }
  return std::to_string(bytes);
}

}  // namespace ipcmesh
