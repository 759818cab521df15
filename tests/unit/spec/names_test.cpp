#include <gtest/gtest.h>

#include <string>

#include "ipcmesh/channel_spec.hpp"

namespace ipcmesh {
namespace {

struct NameCase {
  std::string text;
  bool valid;
};

class PosixName : public ::testing::TestWithParam<NameCase> {};

// Proves the shm_open/mq_open naming rules: one leading '/', no other '/', 1..255 bytes after it.
TEST_P(PosixName, IsAcceptedExactlyWhenItFollowsTheKernelRules) {
  const auto& c = GetParam();
  auto result = validate_posix_name(c.text);
  EXPECT_EQ(static_cast<bool>(result), c.valid) << c.text;
  if (!result) {
    EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
    EXPECT_FALSE(result.error().message.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Names, PosixName,
    ::testing::Values(NameCase{"/a", true}, NameCase{"/ipcmesh.default.pipeline", true},
                      NameCase{"/legacy_queue-1", true},
                      NameCase{"/" + std::string(255, 'x'), true},
                      NameCase{"/" + std::string(256, 'x'), false}, NameCase{"", false},
                      NameCase{"/", false}, NameCase{"a", false}, NameCase{"a/b", false},
                      NameCase{"/a/b", false}, NameCase{"//a", false}, NameCase{"/.", false},
                      NameCase{"/..", false}, NameCase{"/...", true},
                      NameCase{std::string("/a\0b", 4), false}));

class DnsLabel : public ::testing::TestWithParam<NameCase> {};

// Proves namespaces are checked as RFC 1123 labels, as Kubernetes does.
TEST_P(DnsLabel, IsAcceptedExactlyWhenItIsAnRfc1123Label) {
  const auto& c = GetParam();
  EXPECT_EQ(static_cast<bool>(validate_dns1123_label(c.text)), c.valid) << c.text;
}

INSTANTIATE_TEST_SUITE_P(Names, DnsLabel,
                         ::testing::Values(NameCase{"default", true}, NameCase{"kube-system", true},
                                           NameCase{"a", true}, NameCase{"0abc9", true},
                                           NameCase{std::string(63, 'a'), true},
                                           NameCase{std::string(64, 'a'), false},
                                           NameCase{"", false}, NameCase{"Default", false},
                                           NameCase{"-a", false}, NameCase{"a-", false},
                                           NameCase{"a.b", false}, NameCase{"a_b", false}));

class DnsSubdomain : public ::testing::TestWithParam<NameCase> {};

// Proves object names are checked as RFC 1123 subdomains, as Kubernetes does.
TEST_P(DnsSubdomain, IsAcceptedExactlyWhenItIsAnRfc1123Subdomain) {
  const auto& c = GetParam();
  EXPECT_EQ(static_cast<bool>(validate_dns1123_subdomain(c.text)), c.valid) << c.text;
}

INSTANTIATE_TEST_SUITE_P(
    Names, DnsSubdomain,
    ::testing::Values(NameCase{"pipeline", true}, NameCase{"video.frames-v2", true},
                      NameCase{std::string(253, 'a'), true}, NameCase{std::string(254, 'a'), false},
                      NameCase{"", false}, NameCase{"a..b", false}, NameCase{".a", false},
                      NameCase{"a.", false}, NameCase{"a.-b", false}, NameCase{"A.b", false},
                      NameCase{"a b", false}));

// Proves the error for a bad label names the offending character.
TEST(DnsLabel, ErrorNamesTheOffendingCharacter) {
  auto result = validate_dns1123_label("my_ns");
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("\"_\""), std::string::npos) << result.error().message;
}

// Proves the derived names follow the documented pattern for ordinary identities.
TEST(DerivedNames, FollowTheDocumentedPattern) {
  const ChannelId id{"default", "pipeline"};
  EXPECT_EQ(shm_object_name(id), "/ipcmesh.default.pipeline");
  EXPECT_EQ(mq_object_name(id), "/ipcmesh.default.pipeline.mq");
  EXPECT_TRUE(validate_posix_name(shm_object_name(id)));
  EXPECT_TRUE(validate_posix_name(mq_object_name(id)));
}

// Proves an identity too long for NAME_MAX gets a valid, shortened name made unique by a hash.
TEST(DerivedNames, TooLongIdentitiesAreShortenedWithAHashThatKeepsThemUnique) {
  const std::string ns(63, 'n');
  const std::string long_a = std::string(252, 'x') + "a";
  const std::string long_b = std::string(252, 'x') + "b";
  const ChannelId a{ns, long_a};
  const ChannelId b{ns, long_b};
  for (const auto& name : {shm_object_name(a), mq_object_name(a), shm_object_name(b)}) {
    EXPECT_TRUE(validate_posix_name(name)) << name;
    EXPECT_EQ(name.size(), kPosixNameMax + 1) << name;  // uses the whole budget
  }
  EXPECT_NE(shm_object_name(a), shm_object_name(b));
  EXPECT_NE(mq_object_name(a), mq_object_name(b));
  EXPECT_EQ(mq_object_name(a).substr(mq_object_name(a).size() - 3), ".mq");
  EXPECT_EQ(shm_object_name(a).rfind("/ipcmesh." + ns + ".xxx", 0), 0u) << shm_object_name(a);
  // Deterministic: the same identity always gives the same name.
  EXPECT_EQ(shm_object_name(a), shm_object_name(ChannelId{ns, long_a}));
}

// Proves the hash is the documented FNV-1a-64 of "<namespace>/<name>" (other implementations rely
// on it): the value below is computed independently from the published FNV-1a constants.
TEST(DerivedNames, HashIsFnv1aOfNamespaceSlashName) {
  const ChannelId id{std::string(63, 'n'), std::string(253, 'y')};
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : id.namespace_name + "/" + id.name) {
    hash = (hash ^ c) * 0x100000001b3ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  const std::string name = shm_object_name(id);
  EXPECT_EQ(name.substr(name.size() - 17), std::string("-") + hex) << name;
}

// Proves that a name that just fits is not shortened, and the .mq twin shortens independently.
TEST(DerivedNames, ShorteningHappensOnlyWhenNeeded) {
  // "ipcmesh." + "ns" + "." + name == 255 bytes exactly.
  const ChannelId id{"ns", std::string(255 - 11, 'z')};
  EXPECT_EQ(shm_object_name(id), "/ipcmesh.ns." + id.name);
  const std::string mq = mq_object_name(id);
  EXPECT_TRUE(validate_posix_name(mq)) << mq;
  EXPECT_NE(mq, "/ipcmesh.ns." + id.name + ".mq");
}

}  // namespace
}  // namespace ipcmesh
