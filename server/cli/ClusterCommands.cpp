// ClusterCommands.cpp - read-only cluster commands.
#include "server/cli/ClusterCommands.hpp"

#include <chrono>

#include "server/cli/Table.hpp"
#include "server/core/Backend.hpp"

namespace tether::cli {

namespace {

core::ConnectionOptions connectionOf(const ClusterFlags& cluster) {
  return core::ConnectionOptions{cluster.kubeconfig, cluster.context, cluster.namespaceName};
}

std::string ports(const kube::ServiceSummary& service) {
  std::string text;
  for (const auto& port : service.ports) {
    if (!text.empty()) text += ",";
    text += std::to_string(port.port);
    if (port.nodePort != 0) text += ":" + std::to_string(port.nodePort);
    text += "/" + port.protocol;
  }
  return text.empty() ? "<none>" : text;
}

std::string uptime(long startedAt, std::chrono::system_clock::time_point now) {
  if (startedAt <= 0) return "?";
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() - startedAt;
  if (seconds < 0) return "0s";
  if (seconds < 120) return std::to_string(seconds) + "s";
  if (seconds < 7200) return std::to_string(seconds / 60) + "m";
  return std::to_string(seconds / 3600) + "h" + std::to_string(seconds / 60 % 60) + "m";
}

// For the completion script: names only, one per line.
int printNames(const CompleteOptions& options, core::Backend& backend, std::ostream& out) {
  const auto connection = connectionOf(options.cluster);
  if (options.what == "contexts") {
    for (const auto& context : backend.contexts(connection).contexts) out << context.name << "\n";
  } else if (options.what == "namespaces") {
    for (const auto& ns : backend.namespaces(connection)) out << ns.name << "\n";
  } else {
    for (const auto& view : backend.services(connection)) out << view.service.name << "\n";
  }
  return 0;
}

int printSessions(core::Backend& backend, std::ostream& out, std::ostream& err,
                  std::chrono::system_clock::time_point now) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& [record, alive] : backend.machineSessions()) {
    rows.push_back({record.id, record.mode, record.service.empty() ? "-" : record.service,
                    record.namespaceName, record.context,
                    alive ? "running (pid " + std::to_string(record.pid) + ")"
                          : "its tether is gone: `tether clean` undoes it",
                    uptime(record.startedAt, now)});
  }
  if (rows.empty()) {
    err << "No sessions on this machine.\n";
    return 0;
  }
  printTable(out, {"ID", "MODE", "TARGET", "NAMESPACE", "CONTEXT", "STATE", "UPTIME"}, rows);
  return 0;
}

}  // namespace

int runClusterCommand(const Options& options, core::Backend& backend, std::ostream& out, std::ostream& err) {
  const auto now = std::chrono::system_clock::now();
  try {
    if (options.command == Command::Sessions) return printSessions(backend, out, err, now);
    if (options.command == Command::Complete) return printNames(options.get<CompleteOptions>(), backend, out);
    const auto& cluster = options.get<ListOptions>().cluster;
    if (options.command == Command::Contexts) {
      const auto list = backend.contexts(connectionOf(cluster));
      std::vector<std::vector<std::string>> rows;
      for (const auto& context : list.contexts) {
        rows.push_back(
            {context.current ? "*" : "", context.name, context.cluster, context.user, context.namespaceName});
      }
      printTable(out, {"CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"}, rows);
      return 0;
    }
    if (options.command == Command::Namespaces) {
      std::vector<std::vector<std::string>> rows;
      for (const auto& ns : backend.namespaces(connectionOf(cluster))) {
        rows.push_back(
            {ns.name, ns.phase.empty() ? "Active" : ns.phase, formatAge(ns.creationTimestamp, now)});
      }
      printTable(out, {"NAME", "STATUS", "AGE"}, rows);
      return 0;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& view : backend.services(connectionOf(cluster))) {
      const auto& s = view.service;
      std::string holder = "-";
      if (view.heldBy)
        holder = (view.heldBy->mode.empty() ? "held" : view.heldBy->mode) + " by " + view.heldBy->owner;
      if (!view.meshedBy.empty()) {
        holder = "mesh by ";
        for (std::size_t i = 0; i < view.meshedBy.size(); ++i)
          holder += (i == 0 ? "" : ", ") + view.meshedBy[i].owner;
      }
      if (!view.stableOf.empty()) holder = "stable of " + view.stableOf + "'s mesh";
      rows.push_back({s.name, s.type, s.clusterIP.empty() ? "<none>" : s.clusterIP,
                      s.type == "ExternalName" ? s.externalName : "<none>", ports(s),
                      formatAge(s.creationTimestamp, now), holder});
    }
    if (rows.empty()) {
      err << "No services found in " << cluster.namespaceName.value_or("the context's") << " namespace.\n";
      return 0;
    }
    printTable(out, {"NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "HELD-BY"}, rows);
    return 0;
  } catch (const core::Error& error) {
    err << "tether: error: " << error.what() << "\n";
    if (!error.hint().empty()) err << "hint: " << error.hint() << "\n";
    return 1;
  }
}

}  // namespace tether::cli
