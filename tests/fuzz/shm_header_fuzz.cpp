// libFuzzer target: the shm header validator and the record decoder must accept only what
// docs/protocol.md allows and never read outside the bytes they are given.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "channel/shm_layout.hpp"

using namespace ipcmesh::shm;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 8) return 0;
  std::uint64_t claimed_size = 0;
  std::memcpy(&claimed_size, data, 8);
  const auto header_bytes = std::as_bytes(std::span(data + 8, size - 8));
  // Half the inputs get a correct checksum so the fuzzer reaches the geometry checks.
  if (header_bytes.size() >= sizeof(StaticHeader) && (data[0] & 1)) {
    StaticHeader h;
    std::memcpy(&h, header_bytes.data(), sizeof h);
    h.magic = kMagic;
    h.layout_version = kLayoutVersion;
    h.static_checksum = static_checksum(h);
    auto valid = validate_header(std::as_bytes(std::span(&h, 1)),
                                 (data[1] & 1) ? h.total_bytes : claimed_size);
    if (valid) {
      // A valid header must describe a geometry that fits its own size.
      if (valid->data_offset + valid->capacity != valid->total_bytes) __builtin_trap();
      // Decode records at fuzzer-chosen positions against it.
      for (std::size_t i = sizeof(StaticHeader); i + 16 <= header_bytes.size(); i += 16) {
        std::uint64_t position = 0;
        std::uint32_t length_type = 0;
        std::uint32_t check = 0;
        std::memcpy(&position, header_bytes.data() + i, 8);
        std::memcpy(&length_type, header_bytes.data() + i + 8, 4);
        std::memcpy(&check, header_bytes.data() + i + 12, 4);
        const std::uint64_t aligned = position & ~std::uint64_t{15};
        auto record = decode_record(
            aligned, length_type,
            (data[2] & 1) ? record_check(aligned, length_type, valid->record_key) : check, aligned,
            *valid);
        if (record && (aligned & (valid->capacity - 1)) + record->record_bytes > valid->capacity)
          __builtin_trap();
      }
    }
    return 0;
  }
  (void)validate_header(header_bytes, claimed_size);
  return 0;
}
