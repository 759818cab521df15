// What the operator keeps of each watched object, and how the IpcChannel cache feeds the webhook's
// catalog. Apart from operator_app.cpp so that the memory benchmark (bench/operator) builds the
// very same caches the operator does.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>

#include "kube/informer.hpp"
#include "webhook/channel_catalog.hpp"

namespace ipcmesh::operator_main {

// Pods are the bulk of the cache (10,000 of them in the benchmark). The controller reads of a
// Pod only metadata.{name, namespace, labels, deletionTimestamp}, the ipcmesh.io/* annotations
// (inject, channels, status) and status.phase; the informer needs resourceVersion, and uid
// identifies the Pod in logs. Everything else is dropped before caching.
void trim_pod(nlohmann::json& pod);
// The same choice made while a Pod is parsed (kube::InformerOptions::parse_filter), so that the
// dropped fields are never built.
bool keep_pod_field(std::span<const std::string> path);

// What no reader of an IpcChannel needs: managedFields (often half of an object's bytes) and
// kubectl's last-applied-configuration annotation (a second copy of the spec). The reconciler,
// the webhook catalog and Events read apiVersion, kind, the rest of metadata, spec and status.
void drop_managed_fields(nlohmann::json& object);
bool keep_channel_field(std::span<const std::string> path);

// The informer options the operator uses for its two caches (also used by the memory benchmark).
kube::InformerOptions channel_informer_options();
kube::InformerOptions pod_informer_options();

// Keeps `catalog` equal to the valid channels of `channels`; invalid channels are not injected
// (they are removed and logged). Call before channels.start().
void connect_channel_catalog(kube::Informer& channels,
                             std::shared_ptr<webhook::ChannelSnapshot> catalog);

}  // namespace ipcmesh::operator_main
