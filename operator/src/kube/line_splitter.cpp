#include "kube/line_splitter.hpp"

namespace ipcmesh::kube {

bool LineSplitter::deliver(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line.empty() || on_line_(line);
}

bool LineSplitter::feed(std::string_view block) {
  for (auto end = block.find('\n'); end != std::string_view::npos; end = block.find('\n')) {
    bool more = true;
    if (pending_.empty()) {
      more = deliver(block.substr(0, end));
    } else {
      pending_.append(block.substr(0, end));
      more = deliver(pending_);
      pending_.clear();  // keeps its capacity for the next split line
    }
    if (!more) return false;
    block.remove_prefix(end + 1);
  }
  pending_.append(block);
  return true;
}

bool LineSplitter::finish() {
  if (pending_.empty()) return true;
  const bool more = deliver(pending_);
  pending_.clear();
  return more;
}

}  // namespace ipcmesh::kube
