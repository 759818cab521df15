// Human durations on the command line: "30s", "500ms", "2m", "1h", "250us", or plain seconds
// ("1.5"). Negative or unparsable text is an error that quotes the text.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace ipcmesh::relay {

tl::expected<std::chrono::nanoseconds, std::string> parse_duration(std::string_view text);
std::string format_duration(std::chrono::nanoseconds value);

}  // namespace ipcmesh::relay
