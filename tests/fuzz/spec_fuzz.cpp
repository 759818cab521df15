// libFuzzer target for the channel document parser (the relay's and the library's input):
// parse_channel_set must never crash, throw or hang on any bytes, and whatever it accepts must
// survive serialize -> parse unchanged and pass the relay's own checks without crashing.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ipcmesh/channel_spec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto set = ipcmesh::parse_channel_set(text);
  if (!set) {
    return 0;
  }
  for (const ipcmesh::ChannelSpec& spec : set->channels) {
    (void)ipcmesh::validate(spec);
    (void)spec.shm_name();
    (void)spec.mq_name();
  }
  const std::string again = ipcmesh::serialize_channel_set(*set);
  auto reparsed = ipcmesh::parse_channel_set(again);
  if (!reparsed || ipcmesh::serialize_channel_set(*reparsed) != again) {
    __builtin_trap();  // round trip must be stable
  }
  return 0;
}
