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
// status.phase, the relay container's status), decoded by api::pod_record_from_json.
// keep_pod_field is its parse filter: the fields the record does not read are never built while a
// page or an event is parsed.
bool keep_pod_field(std::span<const std::string> path);

// What no reader of an IpcChannel needs: managedFields (often half of an object's bytes) and
// kubectl's last-applied-configuration annotation (a second copy of the spec). The reconciler,
// the webhook catalog and Events read apiVersion, kind, the rest of metadata, spec and status.
void drop_managed_fields(nlohmann::json& object);
bool keep_channel_field(std::span<const std::string> path);

// The informer options the operator uses for its caches (also used by the memory benchmark).
// The IpcChannel informer is a controller::ChannelInformer decoding with
// api::channel_record_from_json; the Pod informer is a controller::PodInformer decoding with
// api::pod_record_from_json; the Namespace informer (only when the operator checks a namespace
// label) a controller::NamespaceInformer decoding with api::namespace_record_from_json.
kube::InformerOptions channel_informer_options();
kube::InformerOptions pod_informer_options();
kube::InformerOptions namespace_informer_options();

// The Namespace record reads metadata.name, resourceVersion and labels: nothing else is built.
bool keep_namespace_field(std::span<const std::string> path);

// Process-wide malloc setting for the caches: every block of 128 KiB or more gets its own mapping,
// returned to the system when freed. Call once, early in main (the memory benchmark does too).
// Why: a LIST page arrives as one body of megabytes (500 Pods are ~2.5 MB of JSON). glibc raises
// its mmap threshold to the size of the largest mapped block freed so far (up to 32 MiB), so later
// page bodies are carved from an arena instead; the small cache objects decoded next settle among
// their freed pages, which malloc_trim can then not return. Setting the threshold also turns that
// adjustment off (mallopt(3)). Measured: ~5 MiB less resident with the benchmark's 10,000 Pods.
void use_fixed_mmap_threshold();

// Keeps `catalog` equal to the valid channels of `channels`; invalid channels are not injected
// (they are removed and logged). Call before channels.start().
void connect_channel_catalog(controller::ChannelInformer& channels,
                             std::shared_ptr<webhook::ChannelSnapshot> catalog);

}  // namespace ipcmesh::operator_main
