#include "kube/line_splitter.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ipcmesh::kube {
namespace {

struct Collected {
  std::vector<std::string> lines;
  LineHandler handler() {
    return [this](std::string_view line) {
      lines.emplace_back(line);
      return true;
    };
  }
};

// Every way of cutting the same body into blocks yields the same lines: a line split across
// blocks, several lines in one block, "\r\n" endings, blank keep-alive lines, and a last line
// without "\n".
TEST(LineSplitter, YieldsTheSameLinesHoweverTheBodyIsCutIntoBlocks) {
  const std::string body = "{\"a\":1}\n\n{\"b\":2}\r\n{\"c\":\"x\\ny\"}\n\r\n{\"d\":4}";
  const std::vector<std::string> expected = {"{\"a\":1}", "{\"b\":2}", "{\"c\":\"x\\ny\"}",
                                             "{\"d\":4}"};
  for (std::size_t size = 1; size <= body.size(); ++size) {
    Collected collected;
    const LineHandler handler = collected.handler();
    LineSplitter splitter(handler);
    for (std::size_t at = 0; at < body.size(); at += size) {
      ASSERT_TRUE(splitter.feed(std::string_view(body).substr(at, size)));
    }
    ASSERT_TRUE(splitter.finish());
    EXPECT_EQ(collected.lines, expected) << "blocks of " << size << " bytes";
  }
}

// A handler that returns false stops the splitter at once: no later line of the same block, nor
// the unfinished last line, is delivered.
TEST(LineSplitter, StopsAtTheFirstLineTheHandlerRefuses) {
  std::vector<std::string> lines;
  const LineHandler handler = [&lines](std::string_view line) {
    lines.emplace_back(line);
    return line != "stop";
  };
  LineSplitter splitter(handler);
  EXPECT_TRUE(splitter.feed("one\nst"));
  EXPECT_FALSE(splitter.feed("op\nthree\nfour"));
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "stop"}));
}

// A body that ends with "\n" has no last line left over.
TEST(LineSplitter, FinishDeliversNothingAfterACompleteLine) {
  Collected collected;
  const LineHandler handler = collected.handler();
  LineSplitter splitter(handler);
  EXPECT_TRUE(splitter.feed("only\n"));
  EXPECT_TRUE(splitter.finish());
  EXPECT_EQ(collected.lines, std::vector<std::string>{"only"});
}

}  // namespace
}  // namespace ipcmesh::kube
