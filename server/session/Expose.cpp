// Expose.cpp - parsing and resolving exposed ports.
#include "server/session/Expose.hpp"

#include <algorithm>
#include <charconv>
#include <set>

namespace tether::session {

namespace {

bool parsePort(const std::string& text, int& port) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < 1 || value > 65535) return false;
  port = value;
  return true;
}

bool isNumber(const std::string& text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::string describePorts(const kube::ServiceSummary& service) {
  std::string text;
  for (const auto& port : service.ports) {
    if (!text.empty()) text += ", ";
    text += std::to_string(port.port);
    if (!port.name.empty()) text += " (" + port.name + ")";
    if (port.targetPort != std::to_string(port.port)) text += " -> " + port.targetPort;
  }
  return text.empty() ? "none" : text;
}

}  // namespace

std::vector<ExposeSpec> parseExpose(const std::vector<std::string>& values) {
  std::vector<ExposeSpec> specs;
  for (const auto& value : values) {
    std::size_t start = 0;
    while (start <= value.size()) {
      auto end = value.find(',', start);
      if (end == std::string::npos) end = value.size();
      const auto item = value.substr(start, end - start);
      start = end + 1;
      if (item.empty())
        throw ExposeError("--expose: empty item in \"" + value + "\"; write local[:remote], e.g. 12001:8080");
      const auto colon = item.find(':');
      ExposeSpec spec;
      const auto local = item.substr(0, colon);
      if (!parsePort(local, spec.local)) {
        throw ExposeError("--expose " + item + ": local port \"" + local +
                          "\" is not a port number (1-65535)");
      }
      if (colon != std::string::npos) {
        spec.remote = item.substr(colon + 1);
        int ignored = 0;
        if (spec.remote.empty() || (isNumber(spec.remote) && !parsePort(spec.remote, ignored))) {
          throw ExposeError("--expose " + item + ": remote \"" + spec.remote +
                            "\" must be a port number (1-65535) or a port name");
        }
      }
      specs.push_back(std::move(spec));
    }
  }
  if (specs.empty()) throw ExposeError("--expose is required: local[:remote], e.g. --expose 12001:8080");
  return specs;
}

std::vector<ExposedPort> resolveExpose(const std::vector<ExposeSpec>& specs,
                                       const kube::ServiceSummary& service) {
  std::vector<ExposedPort> resolved;
  std::set<int> locals;
  std::set<int> servicePorts;
  for (const auto& spec : specs) {
    const auto remote = spec.remote.empty() ? std::to_string(spec.local) : spec.remote;
    // Service port number or name first (what `kubectl port-forward svc/x` takes), then targetPort.
    std::vector<const kube::ServicePortSummary*> matches;
    for (const auto& port : service.ports) {
      if (std::to_string(port.port) == remote || (!port.name.empty() && port.name == remote))
        matches.push_back(&port);
    }
    if (matches.empty()) {
      for (const auto& port : service.ports) {
        if (port.targetPort == remote) matches.push_back(&port);
      }
    }
    const std::string where = "service " + service.name + " in namespace " + service.namespaceName;
    if (matches.empty()) {
      throw ExposeError("--expose " + std::to_string(spec.local) + ":" + remote + ": " + where +
                        " has no port " + remote + "; its ports are " + describePorts(service));
    }
    if (matches.size() > 1) {
      throw ExposeError("--expose " + std::to_string(spec.local) + ":" + remote + ": " + remote +
                        " matches several ports of " + where + " (" + describePorts(service) +
                        "); name the Service port instead");
    }
    const auto& port = *matches.front();
    if (!locals.insert(spec.local).second) {
      throw ExposeError("--expose: local port " + std::to_string(spec.local) + " is given twice");
    }
    if (!servicePorts.insert(port.port).second) {
      throw ExposeError("--expose: Service port " + std::to_string(port.port) + " is exposed twice");
    }
    resolved.push_back(ExposedPort{spec.local, port.port, port.name, port.targetPort});
  }
  return resolved;
}

}  // namespace tether::session
