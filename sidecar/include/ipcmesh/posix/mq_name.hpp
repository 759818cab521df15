// The name of a POSIX message queue this process is responsible for: mq_unlink on destruction
// unless released. Public because MessageQueue, which apps hold, keeps its name in one.
#pragma once

#include <string>
#include <utility>

#include "ipcmesh/error.hpp"

namespace ipcmesh::posix {

class MqName {
 public:
  MqName() = default;
  // `owned`: this object unlinks the name when it goes (a creator's, or an adopter's).
  MqName(std::string name, bool owned) : name_(std::move(name)), owned_(owned) {}
  MqName(MqName&& other) noexcept
      : name_(std::move(other.name_)), owned_(std::exchange(other.owned_, false)) {}
  MqName& operator=(MqName&& other) noexcept;
  MqName(const MqName&) = delete;
  MqName& operator=(const MqName&) = delete;
  ~MqName() { unlink_if_owned(); }

  const std::string& str() const noexcept { return name_; }
  bool owned() const noexcept { return owned_; }
  void own() noexcept { owned_ = true; }
  void release() noexcept { owned_ = false; }  // the name outlives this object

  // mq_unlink of any name, with the errno text in the error.
  static Result<void> unlink(const std::string& name);

 private:
  void unlink_if_owned() noexcept;
  std::string name_;
  bool owned_ = false;
};

}  // namespace ipcmesh::posix
