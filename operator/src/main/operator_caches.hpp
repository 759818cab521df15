// What the operator keeps of each watched object, and how the IpcChannel cache feeds the webhook's
// catalog. Apart from operator_app.cpp so that the memory benchmark (bench/operator) builds the
// very same caches the operator does.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>

#include "controller/channel_api.hpp"
#include "kube/informer.hpp"
#include "webhook/channel_catalog.hpp"

namespace ipcmesh::operator_main {

// Pods are the bulk of the cache (10,000 of them in the benchmark): the Pod informer caches an
// api::PodRecord per Pod (identity, labels, the ipcmesh.io/* annotations, deletionTimestamp,
// status.phase), decoded by api::pod_record_from_json. keep_pod_field is its parse filter: the
// fields the record does not read are never built while a page or an event is parsed.
bool keep_pod_field(std::span<const std::string> path);

// What no reader of an IpcChannel needs: managedFields (often half of an object's bytes) and
// kubectl's last-applied-configuration annotation (a second copy of the spec). The reconciler,
// the webhook catalog and Events read apiVersion, kind, the rest of metadata, spec and status.
void drop_managed_fields(nlohmann::json& object);
bool keep_channel_field(std::span<const std::string> path);

// The informer options the operator uses for its two caches (also used by the memory benchmark).
// The Pod informer is a controller::PodInformer decoding with api::pod_record_from_json.
kube::InformerOptions channel_informer_options();
kube::InformerOptions pod_informer_options();

// Keeps `catalog` equal to the valid channels of `channels`; invalid channels are not injected
// (they are removed and logged). Call before channels.start().
void connect_channel_catalog(kube::Informer& channels,
                             std::shared_ptr<webhook::ChannelSnapshot> catalog);

}  // namespace ipcmesh::operator_main
