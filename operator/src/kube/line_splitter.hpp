// Cuts a stream body that arrives in blocks of any size (TLS records, HTTP chunks) into the lines
// a watch is made of. The transport reads whatever has arrived in one call and hands it here,
// instead of asking its HTTP library for one byte at a time.
#pragma once

#include <string>
#include <string_view>

#include "kube/http_transport.hpp"

namespace ipcmesh::kube {

class LineSplitter {
 public:
  explicit LineSplitter(const LineHandler& on_line) : on_line_(on_line) {}

  // Hands every line that `block` completes to the handler, without its "\n" (or "\r\n"); blank
  // lines (keep-alives) are skipped. A line that lies whole inside `block` is passed without a
  // copy. False once the handler returned false (the rest of the block is not delivered).
  bool feed(std::string_view block);
  // The body ended: a last line without "\n" is still a line.
  bool finish();

 private:
  bool deliver(std::string_view line);

  const LineHandler& on_line_;
  std::string pending_;  // the start of a line that the next block completes
};

}  // namespace ipcmesh::kube
