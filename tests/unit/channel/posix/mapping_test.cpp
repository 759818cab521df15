#include "channel/posix/mapping.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "ipcmesh/posix/unique_fd.hpp"

namespace ipcmesh::posix {
namespace {

UniqueFd anonymous_file(std::size_t bytes) {
  UniqueFd fd(::memfd_create("ipcmesh-mapping-test", MFD_CLOEXEC));
  if (fd && ::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0) fd.reset();
  return fd;
}

bool is_mapped(const void* address) {
  // mincore fails with ENOMEM on an address that is not mapped.
  unsigned char resident = 0;
  const auto page = reinterpret_cast<std::uintptr_t>(address) & ~std::uintptr_t{4095};
  return ::mincore(reinterpret_cast<void*>(page), 1, &resident) == 0;
}

// Proves two mappings of one object share bytes and that a mapping is undone when it goes.
TEST(Mapping, SharesTheObjectsBytesAndUnmapsWhenItGoes) {
  const UniqueFd fd = anonymous_file(8192);
  ASSERT_TRUE(fd);
  const std::byte* address = nullptr;
  {
    auto writer = Mapping::map_shared(fd.get(), 8192, "test");
    auto reader = Mapping::map_shared(fd.get(), 8192, "test");
    ASSERT_TRUE(writer && reader);
    EXPECT_EQ(writer->size(), 8192u);
    std::memcpy(writer->data() + 4096, "ring", 4);
    EXPECT_EQ(std::memcmp(reader->data() + 4096, "ring", 4), 0);
    address = writer->data();
    Mapping moved(std::move(*writer));
    EXPECT_EQ(writer->data(), nullptr);  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(moved.data(), address);
    EXPECT_TRUE(is_mapped(address));
  }
  EXPECT_FALSE(is_mapped(address));
}

TEST(Mapping, AFailedMapSaysWhatAndOnWhichName) {
  auto mapping = Mapping::map_shared(-1, 4096, "/ipcmesh.ns.ring");
  ASSERT_FALSE(mapping);
  EXPECT_EQ(mapping.error().code, ErrorCode::kSystem);
  EXPECT_NE(mapping.error().message.find("mmap"), std::string::npos);
  EXPECT_NE(mapping.error().message.find("/ipcmesh.ns.ring"), std::string::npos);
}

TEST(Mapping, UnmapIsIdempotent) {
  const UniqueFd fd = anonymous_file(4096);
  auto mapping = Mapping::map_shared(fd.get(), 4096, "test");
  ASSERT_TRUE(mapping);
  mapping->unmap();
  EXPECT_EQ(mapping->data(), nullptr);
  EXPECT_EQ(mapping->size(), 0u);
  mapping->unmap();
}

}  // namespace
}  // namespace ipcmesh::posix
