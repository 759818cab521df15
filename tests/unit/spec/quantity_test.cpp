#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "ipcmesh/channel_spec.hpp"

namespace ipcmesh {
namespace {

struct QuantityCase {
  const char* text;
  std::uint64_t bytes;
};

class QuantityParses : public ::testing::TestWithParam<QuantityCase> {};

// Proves every Kubernetes quantity form that denotes whole bytes parses to the exact byte count.
TEST_P(QuantityParses, ToTheExactByteCount) {
  const auto& c = GetParam();
  auto parsed = parse_quantity(c.text);
  ASSERT_TRUE(parsed) << c.text << ": " << parsed.error().message;
  EXPECT_EQ(*parsed, c.bytes) << c.text;
}

INSTANTIATE_TEST_SUITE_P(
    Quantity, QuantityParses,
    ::testing::Values(
        QuantityCase{"0", 0}, QuantityCase{"4096", 4096}, QuantityCase{"+12", 12},
        QuantityCase{"1Ki", 1024}, QuantityCase{"64Mi", 64ull << 20},
        QuantityCase{"2Gi", 2ull << 30}, QuantityCase{"1Ti", 1ull << 40},
        QuantityCase{"1Pi", 1ull << 50}, QuantityCase{"15Ei", 15ull << 60},
        QuantityCase{"8k", 8000}, QuantityCase{"3M", 3000000}, QuantityCase{"1G", 1000000000},
        QuantityCase{"2T", 2000000000000}, QuantityCase{"1P", 1000000000000000},
        QuantityCase{"18E", 18000000000000000000ull}, QuantityCase{"1e3", 1000},
        QuantityCase{"1E3", 1000}, QuantityCase{"12e+2", 1200}, QuantityCase{"1000e-3", 1},
        QuantityCase{"1.5Gi", 1610612736}, QuantityCase{"0.5Ki", 512}, QuantityCase{".5Ki", 512},
        QuantityCase{"1.5k", 1500}, QuantityCase{"2.000", 2}, QuantityCase{"0.25Mi", 262144},
        QuantityCase{"007", 7}, QuantityCase{"0.0", 0},
        QuantityCase{"18446744073709551615", 18446744073709551615ull},
        QuantityCase{"0.0009765625Ki", 1}));

struct RejectCase {
  const char* text;
  const char* reason;  // a fragment the message must contain
};

class QuantityRejects : public ::testing::TestWithParam<RejectCase> {};

// Proves that quantities which are not a whole, non-negative 64-bit byte count are refused with
// a message that says why.
TEST_P(QuantityRejects, WithAMessageThatSaysWhy) {
  const auto& c = GetParam();
  auto parsed = parse_quantity(c.text);
  ASSERT_FALSE(parsed) << c.text << " parsed as " << *parsed;
  EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(parsed.error().message.find(c.reason), std::string::npos)
      << c.text << ": " << parsed.error().message;
  EXPECT_NE(parsed.error().message.find(std::string("\"") + c.text + "\""), std::string::npos)
      << "the message quotes the input: " << parsed.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Quantity, QuantityRejects,
    ::testing::Values(RejectCase{"", "empty"}, RejectCase{"-1", "negative"},
                      RejectCase{"-1Mi", "negative"}, RejectCase{"500m", "fractions of a byte"},
                      RejectCase{"1u", "fractions of a byte"}, RejectCase{"1n", "fractions"},
                      RejectCase{"1.5", "whole number"}, RejectCase{"0.1Ki", "whole number"},
                      RejectCase{"1e-1", "whole number"}, RejectCase{"1.0000001k", "whole number"},
                      RejectCase{"16Ei", "2^64"}, RejectCase{"18446744073709551616", "2^64"},
                      RejectCase{"19E", "2^64"}, RejectCase{"1e20", "2^64"},
                      RejectCase{"1e5000", "exponent"}, RejectCase{"1e", "exponent"},
                      RejectCase{"64MB", "unknown suffix"}, RejectCase{"64mi", "unknown suffix"},
                      RejectCase{"1K", "unknown suffix"}, RejectCase{"1Ki ", "unknown suffix"},
                      RejectCase{" 1", "expected a number"}, RejectCase{"Mi", "expected a number"},
                      RejectCase{".", "expected a number"}, RejectCase{"+", "expected a number"},
                      RejectCase{"1.2.3", "unknown suffix"}, RejectCase{"1e3Ki", "unknown suffix"},
                      RejectCase{"1234567890123456789012345678901234567890",
                                 "significant digits"}));

struct FormatCase {
  std::uint64_t bytes;
  const char* text;
};

class QuantityFormats : public ::testing::TestWithParam<FormatCase> {};

// Proves the canonical form uses the largest binary suffix that divides exactly and parses back.
TEST_P(QuantityFormats, WithTheLargestExactBinarySuffixAndParsesBack) {
  const auto& c = GetParam();
  EXPECT_EQ(format_quantity(c.bytes), c.text);
  auto back = parse_quantity(format_quantity(c.bytes));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, c.bytes);
}

INSTANTIATE_TEST_SUITE_P(
    Quantity, QuantityFormats,
    ::testing::Values(FormatCase{0, "0"}, FormatCase{1, "1"}, FormatCase{1536, "1536"},
                      FormatCase{2048, "2Ki"}, FormatCase{64ull << 20, "64Mi"},
                      FormatCase{1ull << 20, "1Mi"}, FormatCase{3ull << 30, "3Gi"},
                      FormatCase{1ull << 60, "1Ei"}, FormatCase{1000, "1000"},
                      FormatCase{18446744073709551615ull, "18446744073709551615"}));

}  // namespace
}  // namespace ipcmesh
