#include "api/namespace_record.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ipcmesh::api {
namespace {

using nlohmann::json;

// "key=value" parses into the label; the error names the text and what is wrong with it.
TEST(NamespaceLabel, ParsesKeyEqualsValueAndRefusesEverythingElse) {
  const auto parsed = parse_namespace_label("ipcmesh.io/injection=enabled");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(*parsed, kDefaultInjectionLabel);
  EXPECT_EQ(parsed->text(), "ipcmesh.io/injection=enabled");
  EXPECT_EQ(parse_namespace_label("mesh=").value(), (NamespaceLabel{"mesh", ""}));

  const std::vector<std::pair<std::string, std::string>> refused = {
      {"ipcmesh.io/injection", "is not key=value with one '='"},
      {"", "is not key=value with one '='"},
      {"a=b=c", "is not key=value with one '='"},
      {"=enabled", "has no label key before '='"},
      {"-bad=x", "label key \"-bad\""},
      {"Example.COM/x=y", "prefix must be a DNS-1123 subdomain"},
      {"ipcmesh.io/injection=not ok", "label value \"not ok\""},
  };
  for (const auto& [text, message] : refused) {
    SCOPED_TRACE(text);
    const auto outcome = parse_namespace_label(text);
    ASSERT_FALSE(outcome);
    EXPECT_EQ(outcome.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(outcome.error().message.find("\"" + text + "\""), std::string::npos)
        << outcome.error().message;
    EXPECT_NE(outcome.error().message.find(message), std::string::npos) << outcome.error().message;
  }
}

// The record keeps a Namespace's name, resourceVersion and labels, and says whether it carries
// a label: the key with exactly that value.
TEST(NamespaceRecord, KeepsNameVersionAndLabelsAndMatchesKeyAndValue) {
  const json object = {
      {"apiVersion", "v1"},
      {"kind", "Namespace"},
      {"metadata",
       {{"name", "team-a"},
        {"uid", "6f1c"},
        {"resourceVersion", "42"},
        {"labels",
         {{"kubernetes.io/metadata.name", "team-a"}, {"ipcmesh.io/injection", "enabled"}}},
        {"annotations", {{"owner", "video"}}}}},
      {"spec", {{"finalizers", {"kubernetes"}}}},
      {"status", {{"phase", "Active"}}}};
  const NamespaceRecord record = namespace_record_from_json(object);
  EXPECT_EQ(record.name, "team-a");
  EXPECT_EQ(record.resource_version, "42");
  EXPECT_EQ(record.labels.size(), 2u);
  EXPECT_TRUE(record.has(kDefaultInjectionLabel));
  EXPECT_FALSE(record.has(NamespaceLabel{"ipcmesh.io/injection", "disabled"}));
  EXPECT_FALSE(record.has(NamespaceLabel{"ipcmesh.io/other", "enabled"}));
  EXPECT_TRUE(record.has(NamespaceLabel{"kubernetes.io/metadata.name", "team-a"}));

  const NamespaceRecord bare = namespace_record_from_json({{"metadata", {{"name", "plain"}}}});
  EXPECT_TRUE(bare.labels.empty());
  EXPECT_FALSE(bare.has(kDefaultInjectionLabel));
  // An empty value is a value: only a namespace with the key and "" carries it.
  EXPECT_FALSE(bare.has(NamespaceLabel{"mesh", ""}));

  const NamespaceRecord odd = namespace_record_from_json(
      {{"metadata",
        {{"name", "odd"}, {"labels", {{"ipcmesh.io/injection", "enabled"}, {"n", 1}}}}}});
  EXPECT_TRUE(odd.labels.empty());  // labels that are not all strings count as none
  EXPECT_THROW(namespace_record_from_json({{"metadata", json::object()}}), std::exception);
}

}  // namespace
}  // namespace ipcmesh::api
