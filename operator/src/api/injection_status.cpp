#include "api/injection_status.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace ipcmesh::api {

const InjectedChannel* InjectionStatus::find_channel(std::string_view name) const {
  const auto it = std::find_if(channels.begin(), channels.end(),
                               [&](const InjectedChannel& c) { return c.name == name; });
  return it == channels.end() ? nullptr : &*it;
}

std::string serialize_injection_status(const InjectionStatus& status) {
  nlohmann::json channels = nlohmann::json::array();
  for (const auto& c : status.channels) {
    channels.push_back({{"name", c.name}, {"uid", c.uid}, {"generation", c.generation}});
  }
  nlohmann::json dev_shm{{"source", status.dev_shm_source}};
  if (!status.dev_shm_volume.empty()) dev_shm["volume"] = status.dev_shm_volume;
  if (!status.dev_shm_size_limit.empty()) dev_shm["sizeLimit"] = status.dev_shm_size_limit;
  nlohmann::json out{{"version", status.version},       {"contract", status.contract},
                     {"channels", std::move(channels)}, {"sidecar", status.sidecar},
                     {"containers", status.containers}, {"volumes", status.volumes},
                     {"devShm", std::move(dev_shm)},    {"hostIPC", status.host_ipc}};
  if (!status.sysctls.empty()) out["sysctls"] = status.sysctls;
  return out.dump();
}

Result<InjectionStatus> parse_injection_status(std::string_view text) {
  const auto doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return make_error(ErrorCode::kInvalidArgument, "ipcmesh.io/status: not a JSON object");
  }
  const auto bad = [](std::string_view field) {
    return make_error(ErrorCode::kInvalidArgument,
                      "ipcmesh.io/status: " + std::string(field) + " has the wrong type");
  };
  InjectionStatus status;
  try {
    status.version = doc.value("version", "");
    status.contract = doc.value("contract", 0);
    status.sidecar = doc.value("sidecar", "");
    status.host_ipc = doc.value("hostIPC", false);
    if (auto it = doc.find("channels"); it != doc.end()) {
      if (!it->is_array()) return bad("channels");
      for (const auto& item : *it) {
        if (!item.is_object()) return bad("channels[]");
        status.channels.push_back(InjectedChannel{item.value("name", ""), item.value("uid", ""),
                                                  item.value("generation", std::int64_t{0})});
      }
    }
    if (auto it = doc.find("containers"); it != doc.end()) {
      status.containers = it->get<std::vector<std::string>>();
    }
    if (auto it = doc.find("volumes"); it != doc.end()) {
      status.volumes = it->get<std::vector<std::string>>();
    }
    if (auto it = doc.find("devShm"); it != doc.end()) {
      if (!it->is_object()) return bad("devShm");
      status.dev_shm_source = it->value("source", "");
      status.dev_shm_volume = it->value("volume", "");
      status.dev_shm_size_limit = it->value("sizeLimit", "");
    }
    if (auto it = doc.find("sysctls"); it != doc.end()) {
      status.sysctls = it->get<std::map<std::string, std::string>>();
    }
  } catch (const nlohmann::json::exception& e) {
    // value()/get() throw type_error on a mistyped field: report it, never propagate.
    return make_error(ErrorCode::kInvalidArgument, std::string("ipcmesh.io/status: ") + e.what());
  }
  return status;
}

}  // namespace ipcmesh::api
