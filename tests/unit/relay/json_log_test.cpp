#include "relay/json_log.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace ipcmesh::relay {
namespace {

// JSON escaping covers quotes, backslashes and control characters.
TEST(JsonLog, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(json_escape(R"(say "hi" \ bye)"), R"(say \"hi\" \\ bye)");
  EXPECT_EQ(json_escape("a\nb\tc\x01"), "a\\nb\\tc\\u0001");
}

// A log line whose message holds quotes and newlines is still one valid JSON object.
TEST(JsonLog, EveryLineIsValidJsonEvenWithQuotesInTheMessage) {
  char path[] = "/tmp/ipcmesh-json-log-XXXXXX";
  const int file = ::mkstemp(path);
  ASSERT_GE(file, 0);
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(file, STDERR_FILENO);
  {
    auto logger = make_json_logger("relay", spdlog::level::info);
    logger->warn("queue {} said \"{}\"\nand more", "/posix_mq_example", "no \\ space");
    logger->flush();
  }
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(file);
  std::ifstream in(path);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  ::unlink(path);
  const auto object = nlohmann::json::parse(line);
  EXPECT_EQ(object["msg"], "queue /posix_mq_example said \"no \\ space\"\nand more");
  EXPECT_EQ(object["level"], "warning");
  EXPECT_EQ(object["logger"], "relay");
  EXPECT_EQ(object["pid"], ::getpid());
}

}  // namespace
}  // namespace ipcmesh::relay
