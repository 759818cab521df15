// What the operator keeps of each watched object, and how the IpcChannel cache feeds the webhook's
// catalog. Apart from operator_app.cpp so that the memory benchmark (bench/operator) builds the
// very same caches the operator does.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>

#include "kube/informer.hpp"
#include "webhook/channel_catalog.hpp"

namespace ipcmesh::operator_main {

// Pods are the bulk of the cache (10,000 of them in the benchmark); the controller reads only
// metadata and status.phase, so the rest is dropped before caching.
void trim_pod(nlohmann::json& pod);

// managedFields is often half of an object's bytes and nothing here reads it.
void drop_managed_fields(nlohmann::json& object);

// Keeps `catalog` equal to the valid channels of `channels`; invalid channels are not injected
// (they are removed and logged). Call before channels.start().
void connect_channel_catalog(kube::Informer& channels,
                             std::shared_ptr<webhook::ChannelSnapshot> catalog);

}  // namespace ipcmesh::operator_main
