#include "relay/ready_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "ipcmesh/channel_spec.hpp"

namespace ipcmesh::relay {
namespace {

std::string temp_dir(const char* what) {
  return "/tmp/ipcmesh-ready-test-" + std::to_string(::getpid()) + "-" + what;
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The ready file appears whole (no temporary file left beside it) and goes with its owner.
TEST(ReadyFile, AppearsWholeAndIsRemovedWithItsOwner) {
  const std::string dir = temp_dir("whole");
  std::string path;
  {
    auto ready = ReadyFile::write(dir, "{\"channels\":1}\n");
    ASSERT_TRUE(ready) << ready.error().message;
    path = ready->path();
    EXPECT_EQ(path, dir + "/" + std::string(kReadyFileName));
    EXPECT_EQ(read(path), "{\"channels\":1}\n");
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++entries;
    EXPECT_EQ(entries, 1u);
    ReadyFile moved(std::move(*ready));
    EXPECT_EQ(::access(path.c_str(), F_OK), 0);
  }
  EXPECT_NE(::access(path.c_str(), F_OK), 0);
  std::filesystem::remove_all(dir);
}

TEST(ReadyFile, AControlDirThatCannotBeMadeIsNamed) {
  const std::string file = temp_dir("file");
  std::ofstream(file) << "not a directory";
  auto ready = ReadyFile::write(file + "/sub", "x");
  ASSERT_FALSE(ready);
  EXPECT_NE(ready.error().message.find(file + "/sub"), std::string::npos);
  ::unlink(file.c_str());
}

}  // namespace
}  // namespace ipcmesh::relay
