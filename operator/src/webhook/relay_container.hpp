// The fourth step of the mutation: the relay container, built from the plan alone. Its flags,
// probe paths, env and mounts are the operator's half of the operator↔relay contract
// (docs/channel-contract.md "The relay container"). Internal to the webhook.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "webhook/injection_plan.hpp"

namespace ipcmesh::webhook {

// The relay for `plan`, not yet placed in the Pod. Appends a warning when the relay's port becomes
// a hostPort and when its memory limit cannot cover the rings.
nlohmann::json relay_container(const InjectionPlan& plan, const MutationOptions& options,
                               std::vector<std::string>& warnings);

// The relay's resources: the first channel's (by name) that sets spec.relay.resources, else the
// operator's default, with the rings it is charged for added to its memory limit.
nlohmann::json relay_resources(const std::vector<const api::IpcChannel*>& channels,
                               const MutationOptions& options, std::vector<std::string>& warnings);

}  // namespace ipcmesh::webhook
