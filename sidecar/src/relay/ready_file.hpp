// The contract's ready file, <control-dir>/ready: apps (and a startup probe) wait for it instead of
// sleeping and hoping. Written atomically (temp file + rename), removed on destruction.
#pragma once

#include <string>

#include "ipcmesh/error.hpp"

namespace ipcmesh::relay {

class ReadyFile {
 public:
  static Result<ReadyFile> write(const std::string& control_dir, const std::string& content);

  ReadyFile(ReadyFile&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  ReadyFile& operator=(ReadyFile&&) = delete;
  ReadyFile(const ReadyFile&) = delete;
  ReadyFile& operator=(const ReadyFile&) = delete;
  ~ReadyFile() { remove(); }

  void remove();
  const std::string& path() const { return path_; }

 private:
  explicit ReadyFile(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace ipcmesh::relay
