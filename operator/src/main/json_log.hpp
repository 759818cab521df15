// JSON-lines logs on stderr through spdlog's default logger, the operator's only log sink:
// {"time":"2026-11-28T12:00:00.000Z","level":"info","logger":"ipcmesh-operator","msg":"..."}.
// The message is JSON-escaped by a custom pattern flag, so quotes and newlines in API errors never
// break a line for the log shipper.
#pragma once

#include <string>

namespace ipcmesh::operator_main {

// Installs the JSON logger as spdlog's default. Throws std::runtime_error for an unknown level.
void install_json_logging(const std::string& level);

}  // namespace ipcmesh::operator_main
