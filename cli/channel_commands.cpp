// ipcmeshctl get channels: each channel as the controller reports it (spec, counts, Ready), and
// the selector text describe and why print too (describe channel is describe_command.cpp).
#include <ostream>

#include "cluster_commands.hpp"
#include "cluster_objects.hpp"
#include "text_table.hpp"
#include "yaml_documents.hpp"

namespace ipcmesh::cli {
namespace {

using nlohmann::json;

constexpr const char* kGet = "ipcmeshctl get channels";

void add_channel_aliases(CLI::App& command, const char* name) {
  for (const char* alias : {"channel", "channels", "ipch", "ipcchannel", "ipcchannels"}) {
    if (std::string_view(alias) != name) command.alias(alias);
  }
}

std::string condition_status(const api::IpcChannelStatus& status, std::string_view type) {
  const api::Condition* condition = status.find_condition(type);
  return condition ? condition->status : "Unknown";
}

std::string transport_text(const api::ChannelRecord& record) {
  return record.channel ? std::string(to_string(record.channel->spec.transport)) : "Invalid";
}

std::string scope_text(const api::ChannelRecord& record) {
  return record.channel ? std::string(to_string(record.channel->spec.scope)) : "";
}

void print_object(const json& object, const std::string& format, std::ostream& out) {
  if (format == "yaml") {
    out << documents_to_yaml({object});
  } else {
    out << object.dump(2) << "\n";
  }
}

void print_channel_table(const std::vector<ChannelObject>& channels, const GetArguments& arguments,
                         std::int64_t now, std::ostream& out) {
  const bool all = arguments.cluster.all_namespaces;
  const bool wide = arguments.cluster.output == "wide";
  std::vector<std::string> headers = {"NAME",     "TRANSPORT",       "SCOPE", "SELECTED",
                                      "INJECTED", "PENDING-RESTART", "READY", "AGE"};
  if (all) headers.insert(headers.begin(), "NAMESPACE");
  if (wide) headers.insert(headers.end(), {"DEGRADED", "SELECTOR"});
  TextTable table(headers);
  for (const auto& [object, record] : channels) {
    const api::IpcChannelStatus& status = record.status;
    std::vector<std::string> row = {record.metadata.name,
                                    transport_text(record),
                                    scope_text(record),
                                    std::to_string(status.selected_pods),
                                    std::to_string(status.injected_pods),
                                    std::to_string(status.pending_restart_pods),
                                    condition_status(status, api::kConditionReady),
                                    age_since(record.metadata.creation_timestamp, now)};
    if (all) row.insert(row.begin(), record.metadata.namespace_name);
    if (wide) {
      row.push_back(condition_status(status, api::kConditionDegraded));
      row.push_back(selector_text(record.selector));
    }
    table.add_row(std::move(row));
  }
  table.print(out);
}

// A failure of the whole command: one line, exit 1.
int fail(const char* command, const std::exception& error, const ClusterAccess& cluster,
         std::ostream& err) {
  err << command << ": " << describe_failure(error, cluster.server) << "\n";
  return command_line::kExitFailure;
}

}  // namespace

std::string selector_text(const std::optional<api::LabelSelector>& selector) {
  if (!selector) return "<by annotation only>";
  if (selector->empty()) return "<all Pods>";
  std::string text;
  const auto add = [&text](const std::string& term) { text += (text.empty() ? "" : ",") + term; };
  for (const auto& [key, value] : selector->match_labels) add(key + "=" + value);
  for (const auto& requirement : selector->match_expressions) {
    std::string values;
    for (const auto& value : requirement.values) values += (values.empty() ? "" : ",") + value;
    switch (requirement.op) {
      case api::SelectorOperator::kIn:
        add(requirement.key + " in (" + values + ")");
        break;
      case api::SelectorOperator::kNotIn:
        add(requirement.key + " notin (" + values + ")");
        break;
      case api::SelectorOperator::kExists:
        add(requirement.key);
        break;
      case api::SelectorOperator::kDoesNotExist:
        add("!" + requirement.key);
        break;
    }
  }
  return text;
}

CLI::App* add_get_command(CLI::App& app, GetArguments& arguments) {
  CLI::App* get = app.add_subcommand("get", "list IpcChannels with their counts and readiness");
  command_line::apply_conventions(*get);
  get->require_subcommand(1);
  CLI::App* channels =
      get->add_subcommand("channels", "list IpcChannels: counts, Ready, age (as kubectl get)");
  command_line::apply_conventions(*channels);
  add_channel_aliases(*channels, "channels");
  channels->add_option("NAME", arguments.name, "one channel (default: all)");
  add_namespace_flag(*channels, arguments.cluster);
  channels->add_flag("-A,--all-namespaces", arguments.cluster.all_namespaces,
                     "every namespace (adds a NAMESPACE column)");
  command_line::add_output_option(*channels, arguments.cluster.output, {"wide", "json", "yaml"})
      ->description("wide (adds DEGRADED and SELECTOR), json or yaml (the objects as stored)");
  add_connection_flags(*channels, arguments.cluster);
  channels->footer(
      "SELECTED, INJECTED and PENDING-RESTART are the operator's counts (docs/operator.md).\n"
      "Exit codes: 0 ok, 1 failure (cluster unreachable, channel missing), 2 usage.");
  return channels;
}

int run_get_channels(const GetArguments& arguments, ClusterAccess& cluster, std::ostream& out,
                     std::ostream& err) {
  try {
    std::vector<ChannelObject> channels;
    if (!arguments.name.empty()) {
      channels.push_back(get_channel(cluster.api, cluster.namespace_name, arguments.name));
    } else {
      channels = list_channels(cluster.api,
                               arguments.cluster.all_namespaces ? "" : cluster.namespace_name);
    }
    const std::string& format = arguments.cluster.output;
    if (format == "json" || format == "yaml") {
      json items = json::array();
      for (const auto& channel : channels) items.push_back(channel.object);
      print_object(arguments.name.empty()
                       ? json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}}
                       : items.at(0),
                   format, out);
    } else if (channels.empty()) {
      err << "No IpcChannels found"
          << (arguments.cluster.all_namespaces ? "" : " in namespace " + cluster.namespace_name)
          << ".\n";
    } else {
      print_channel_table(channels, arguments, cluster.now_seconds, out);
    }
    return command_line::kExitOk;
  } catch (const std::exception& error) {
    return fail(kGet, error, cluster, err);
  }
}

}  // namespace ipcmesh::cli
