// A shared mapping of an open object (mmap MAP_SHARED), unmapped on destruction: the
// PosixMemoryMap of iceoryx's hoofs, reduced to what a channel segment needs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

#include "ipcmesh/error.hpp"

namespace ipcmesh::posix {

class Mapping {
 public:
  Mapping() = default;
  // Maps the first `bytes` of `fd` read-write; `name` (the object's) is for the error message.
  static Result<Mapping> map_shared(int fd, std::uint64_t bytes, std::string_view name);

  Mapping(Mapping&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  Mapping& operator=(Mapping&& other) noexcept {
    if (this != &other) {
      unmap();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() { unmap(); }

  // Inline: the ring's data path computes every record address from it.
  std::byte* data() const noexcept { return data_; }
  std::uint64_t size() const noexcept { return size_; }
  void unmap() noexcept;

 private:
  Mapping(std::byte* data, std::uint64_t size) : data_(data), size_(size) {}
  std::byte* data_ = nullptr;
  std::uint64_t size_ = 0;
};

}  // namespace ipcmesh::posix
