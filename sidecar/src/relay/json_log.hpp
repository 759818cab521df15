// JSON-lines logging for the relay and ipcmeshctl: one object per line on stderr,
// {"time":"2026-01-01T00:00:00.000Z","level":"info","logger":"relay","msg":"..."}.
// The message is JSON-escaped by a custom spdlog flag, so quotes, backslashes and control
// characters in names or errno texts never break the line for a log shipper.
#pragma once

#include <spdlog/common.h>
#include <spdlog/logger.h>

#include <memory>
#include <string>
#include <string_view>

namespace ipcmesh::relay {

// Escapes text for inclusion inside a JSON string (without the surrounding quotes).
std::string json_escape(std::string_view text);

// A logger writing JSON lines to stderr (thread-safe sink).
std::shared_ptr<spdlog::logger> make_json_logger(std::string name, spdlog::level::level_enum level);

// "debug", "info", "warn", "error", "off"... (spdlog's names); false when unknown.
bool parse_log_level(std::string_view text, spdlog::level::level_enum& out);

}  // namespace ipcmesh::relay
