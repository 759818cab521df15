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
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

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

// A quantity as significant digits times 10^exponent10 times 2^binary_shift.
struct Scaled {
  std::string digits;  // integer and fraction parts concatenated
  int exponent10 = 0;
  int binary_shift = 0;
};

// Reads "[+] digits [. digits]" from the front of `text`; returns the index after it.
Result<std::size_t> read_number(std::string_view text, Scaled& number) {
  if (text.empty()) return quantity_error(text, "empty");
  if (text[0] == '-') return quantity_error(text, "sizes cannot be negative");
  std::size_t i = text[0] == '+' ? 1 : 0;
  std::size_t digit_count = 0;
  for (; i < text.size() && is_digit(text[i]); ++i, ++digit_count) number.digits.push_back(text[i]);
  if (i < text.size() && text[i] == '.') {
    for (++i; i < text.size() && is_digit(text[i]); ++i, ++digit_count) {
      number.digits.push_back(text[i]);
      --number.exponent10;
    }
  }
  if (digit_count == 0) return quantity_error(text, "expected a number such as 64Mi or 4096");
  return i;
}

// "e3", "E-2", "e+10": the exponent after the letter.
Result<int> read_exponent(std::string_view text, std::string_view suffix) {
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
  return negative ? -exponent : exponent;
}

Result<void> apply_suffix(std::string_view text, std::string_view suffix, Scaled& number) {
  static constexpr std::pair<std::string_view, int> kBinary[] = {
      {"Ki", 10}, {"Mi", 20}, {"Gi", 30}, {"Ti", 40}, {"Pi", 50}, {"Ei", 60}};
  static constexpr std::pair<std::string_view, int> kDecimal[] = {{"k", 3},  {"M", 6},  {"G", 9},
                                                                  {"T", 12}, {"P", 15}, {"E", 18}};
  if (suffix.empty()) return {};
  for (const auto& [name, shift] : kBinary) {
    if (suffix == name) {
      number.binary_shift = shift;
      return {};
    }
  }
  for (const auto& [name, exponent] : kDecimal) {
    if (suffix == name) {
      number.exponent10 += exponent;
      return {};
    }
  }
  if (suffix == "m" || suffix == "u" || suffix == "n") {
    return quantity_error(text, "milli, micro and nano units are fractions of a byte");
  }
  if (suffix[0] == 'e' || suffix[0] == 'E') {
    auto exponent = read_exponent(text, suffix);
    if (!exponent) return tl::unexpected(exponent.error());
    number.exponent10 += *exponent;
    return {};
  }
  return quantity_error(
      text, "unknown suffix \"" + std::string(suffix) +
                "\" (use Ki, Mi, Gi, Ti, Pi, Ei, k, M, G, T, P, E or an exponent like 1e3)");
}

// value * 2^binary_shift / 10^-exponent10 must be whole: cancel twos first, then divide exactly.
Result<void> divide_exactly(std::string_view text, u128& value, Scaled& number) {
  int fives = -number.exponent10;
  int twos = -number.exponent10;
  const int cancelled = std::min(twos, number.binary_shift);
  twos -= cancelled;
  number.binary_shift -= cancelled;
  number.exponent10 = 0;
  for (; fives > 0; --fives) {
    if (value % 5 != 0) return quantity_error(text, "not a whole number of bytes");
    value /= 5;
  }
  for (; twos > 0; --twos) {
    if (value % 2 != 0) return quantity_error(text, "not a whole number of bytes");
    value /= 2;
  }
  return {};
}

Result<std::uint64_t> to_bytes(std::string_view text, Scaled number) {
  // Normalise: drop leading zeros, move trailing zeros into the exponent.
  std::string& digits = number.digits;
  const std::size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return std::uint64_t{0};
  digits.erase(0, first);
  while (digits.back() == '0') {
    digits.pop_back();
    ++number.exponent10;
  }
  if (digits.size() > kMaxSignificantDigits) {
    return quantity_error(text, "too many significant digits");
  }
  u128 value = 0;
  for (char c : digits) value = value * 10 + static_cast<unsigned>(c - '0');
  if (number.exponent10 < 0) {
    if (auto whole = divide_exactly(text, value, number); !whole) {
      return tl::unexpected(whole.error());
    }
  }
  const auto overflow = [&] { return quantity_error(text, "larger than 2^64-1 bytes"); };
  if (value > kU64Max) return overflow();
  for (int k = 0; k < number.exponent10; ++k) {
    value *= 10;
    if (value > kU64Max) return overflow();
  }
  for (int k = 0; k < number.binary_shift; ++k) {
    value <<= 1;
    if (value > kU64Max) return overflow();
  }
  return static_cast<std::uint64_t>(value);
}

}  // namespace

Result<std::uint64_t> parse_quantity(std::string_view text) {
  Scaled number;
  const auto end = read_number(text, number);
  if (!end) return tl::unexpected(end.error());
  if (auto suffix = apply_suffix(text, text.substr(*end), number); !suffix) {
    return tl::unexpected(suffix.error());
  }
  return to_bytes(text, std::move(number));
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
