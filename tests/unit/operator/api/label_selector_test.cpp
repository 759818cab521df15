#include "api/label_selector.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace ipcmesh::api {
namespace {

using nlohmann::json;

LabelSelector parse(const char* text) {
  auto selector = label_selector_from_json(json::parse(text), "spec.selector");
  EXPECT_TRUE(selector.has_value()) << (selector ? "" : selector.error().message);
  return selector.value_or(LabelSelector{});
}

struct MatchCase {
  const char* selector;
  Labels labels;
  bool matches;
};

class LabelSelectorMatch : public ::testing::TestWithParam<MatchCase> {};

// Each row: a selector, a Pod's labels, and whether the API server's semantics say it matches.
TEST_P(LabelSelectorMatch, FollowsTheApiServersSemantics) {
  const auto& row = GetParam();
  EXPECT_EQ(parse(row.selector).matches(row.labels), row.matches) << row.selector;
}

INSTANTIATE_TEST_SUITE_P(
    Table, LabelSelectorMatch,
    ::testing::Values(
        MatchCase{R"({})", {}, true}, MatchCase{R"({})", {{"app", "x"}}, true},
        MatchCase{R"({"matchLabels":{"app":"x"}})", {{"app", "x"}, {"tier", "db"}}, true},
        MatchCase{R"({"matchLabels":{"app":"x"}})", {{"app", "y"}}, false},
        MatchCase{R"({"matchLabels":{"app":"x","tier":"db"}})", {{"app", "x"}}, false},
        MatchCase{R"({"matchExpressions":[{"key":"app","operator":"In","values":["a","b"]}]})",
                  {{"app", "b"}},
                  true},
        MatchCase{
            R"({"matchExpressions":[{"key":"app","operator":"In","values":["a"]}]})", {}, false},
        MatchCase{
            R"({"matchExpressions":[{"key":"app","operator":"NotIn","values":["a"]}]})", {}, true},
        MatchCase{R"({"matchExpressions":[{"key":"app","operator":"NotIn","values":["a"]}]})",
                  {{"app", "a"}},
                  false},
        MatchCase{
            R"({"matchExpressions":[{"key":"gpu","operator":"Exists"}]})", {{"gpu", ""}}, true},
        MatchCase{R"({"matchExpressions":[{"key":"gpu","operator":"DoesNotExist"}]})",
                  {{"gpu", ""}},
                  false},
        MatchCase{R"({"matchLabels":{"app":"x"},
                      "matchExpressions":[{"key":"tier","operator":"DoesNotExist"}]})",
                  {{"app", "x"}},
                  true},
        MatchCase{
            R"({"matchLabels":{"example.com/role":"w"}})", {{"example.com/role", "w"}}, true}));

// Each malformed selector is refused with an error that names the JSON path of the problem.
TEST(LabelSelector, MalformedSelectorsAreRefusedWithTheirPath) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"matchExpressions":[{"key":"a","operator":"Near","values":["x"]}]})",
       "spec.selector.matchExpressions[0].operator"},
      {R"({"matchExpressions":[{"key":"a","operator":"In"}]})",
       "spec.selector.matchExpressions[0]: operator In needs at least one value"},
      {R"({"matchExpressions":[{"key":"a","operator":"Exists","values":["x"]}]})",
       "takes no values"},
      {R"({"matchLabels":{"app":7}})", "spec.selector.matchLabels.app"},
      {R"({"matchLabels":{"-bad":"x"}})", "label key"},
      {R"({"matchLabels":{"app":"bad value"}})", "label value"},
      {R"({"matchExpressions":{}})", "must be a list"},
      {R"([])", "must be an object"},
  };
  for (const auto& [text, expected] : cases) {
    auto selector = label_selector_from_json(json::parse(text), "spec.selector");
    ASSERT_FALSE(selector.has_value()) << text;
    EXPECT_NE(selector.error().message.find(expected), std::string::npos)
        << text << " -> " << selector.error().message;
  }
}

// to_json then parse gives back the same selector.
TEST(LabelSelector, RoundTripsThroughJson) {
  const auto selector = parse(R"({"matchLabels":{"app":"x"},
      "matchExpressions":[{"key":"tier","operator":"NotIn","values":["a","b"]},
                          {"key":"gpu","operator":"Exists"}]})");
  auto again = label_selector_from_json(to_json(selector));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, selector);
}

// Label keys and values follow the API server's qualified-name rules.
TEST(LabelSelector, KeysAndValuesFollowQualifiedNameRules) {
  EXPECT_TRUE(validate_label_key("app"));
  EXPECT_TRUE(validate_label_key("app.kubernetes.io/name"));
  EXPECT_FALSE(validate_label_key(""));
  EXPECT_FALSE(validate_label_key("/name"));
  EXPECT_FALSE(validate_label_key(std::string(64, 'a')));
  EXPECT_TRUE(validate_label_value(""));
  EXPECT_TRUE(validate_label_value("v1.2_3-x"));
  EXPECT_FALSE(validate_label_value("-x"));
}

}  // namespace
}  // namespace ipcmesh::api
