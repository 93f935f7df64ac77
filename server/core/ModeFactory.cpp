// ModeFactory.cpp - one place that knows each mode's fields.
#include "server/core/ModeFactory.hpp"

#include <algorithm>
#include <array>

#include "protocol/mesh/Matcher.hpp"
#include "support/text/Random.hpp"

namespace tether::core {

namespace {

// The name a caller knows a field by.
struct Names {
  const char* target;
  const char* expose;
  const char* strategy;
  const char* type;
  const char* mode;
};

Names namesFor(Caller caller) {
  if (caller == Caller::Ide) return {"target", "expose", "exchange.strategy", "preview.type", "mode"};
  return {"SERVICE", "--expose", "--strategy", "--type", "the command"};
}

// The request field to change, for clients that point at it (error.data.field in PROTOCOL.md).
ErrorDetail invalidField(const char* field) {
  return ErrorDetail{"invalid-field", field};
}

// A Kubernetes Service name: a DNS-1035 label (lower case letters, digits, '-', a letter first, 63 at most).
bool validServiceName(const std::string& name) {
  if (name.empty() || name.size() > 63 || !(name.front() >= 'a' && name.front() <= 'z') || name.back() == '-')
    return false;
  for (const char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

const char* flagFor(const std::string& kind, bool ide) {
  if (ide) return "mesh.matchers[].kind";
  if (kind == "prefix") return "--header-prefix";
  if (kind == "regex") return "--header-regex";
  if (kind == "baggage") return "--baggage";
  return "--header";
}

std::vector<mesh::Matcher> matchersFor(const SessionRequest& request, bool ide) {
  std::vector<mesh::Matcher> matchers;
  if (request.matchers.empty()) {
    // Nothing asked for: a header nobody else uses, which the start prints with a curl line to paste.
    std::string error;
    matchers.push_back(
        *mesh::Matcher::make(mesh::MatchKind::Exact, "x-dev", "tether-" + support::randomHex(3), error));
    return matchers;
  }
  for (const auto& wanted : request.matchers) {
    const auto kind = mesh::matchKindFrom(wanted.kind);
    if (!kind) {
      throw Error(ErrorCategory::User, "unknown matcher kind \"" + wanted.kind + "\"",
                  "use exact, prefix, regex or baggage (" + std::string(flagFor(wanted.kind, ide)) + ")",
                  invalidField("mesh.matchers"));
    }
    std::string error;
    auto matcher = mesh::Matcher::make(*kind, wanted.name, wanted.value, error);
    if (!matcher) {
      throw Error(ErrorCategory::User, error + " (" + flagFor(wanted.kind, ide) + ")",
                  ide ? "give a header name, and a value the header must equal, start with or match"
                      : "write it as NAME=VALUE, e.g. --header x-dev=alice",
                  invalidField("mesh.matchers"));
    }
    if (std::find(matchers.begin(), matchers.end(), *matcher) != matchers.end()) {
      throw Error(ErrorCategory::User, "the matcher " + matcher->describe() + " is given twice",
                  "give each condition once; all of them must match", invalidField("mesh.matchers"));
    }
    matchers.push_back(std::move(*matcher));
  }
  return matchers;
}

}  // namespace

session::SessionSpec specFor(const SessionRequest& request) {
  const auto names = namesFor(request.caller);
  const auto field = [](const char* name) { return std::string(name); };
  const auto mode = session::parseMode(request.mode);
  if (!mode) {
    throw Error(ErrorCategory::User, "unknown mode \"" + request.mode + "\"",
                std::string("use ") + session::modeChoices() + " (" + names.mode + ")", invalidField("mode"));
  }
  session::SessionSpec spec;
  spec.audience = request.caller == Caller::Ide ? session::Audience::Ide : session::Audience::CommandLine;
  spec.mode = *mode;
  spec.service = request.service;
  const bool needsTarget = *mode != session::Mode::Connect;
  if (needsTarget && request.service.empty()) {
    throw Error(ErrorCategory::User, std::string("no Service named for ") + session::toString(*mode),
                "name the Service in " + field(names.target), invalidField("target"));
  }
  if (*mode == session::Mode::Connect && !request.service.empty()) {
    throw Error(
        ErrorCategory::User,
        "connect takes no Service (" + field(names.target) + " was \"" + request.service + "\")",
        "leave it out: connect reaches every Service of the namespace; use forward or exchange for one",
        invalidField("target"));
  }
  if (*mode == session::Mode::Preview && !validServiceName(request.service)) {
    throw Error(ErrorCategory::User,
                "\"" + request.service + "\" (" + field(names.target) + ") is not a valid Service name",
                "use lower-case letters, digits and '-', starting with a letter, at most 63 characters",
                invalidField("target"));
  }
  if (*mode == session::Mode::Connect) {
    if (!request.expose.empty()) {
      throw Error(ErrorCategory::User, "connect exposes no ports (" + field(names.expose) + " was given)",
                  "leave it out, or use exchange or preview to receive traffic", invalidField("expose"));
    }
  } else {
    try {
      spec.expose = session::parseExpose(request.expose);
    } catch (const session::ExposeError& error) {
      // The parser speaks the CLI's language; an IDE caller knows the field as `expose`.
      throw Error(ErrorCategory::User, session::remedy::exposeProblem(spec.audience, error.what()),
                  "write " + field(names.expose) + " as LOCAL[:REMOTE], e.g. 12001:8080",
                  invalidField("expose"));
    }
  }
  if (*mode == session::Mode::Exchange) {
    if (request.strategy.empty() || request.strategy == "selector") {
      spec.strategy = session::Strategy::Selector;
    } else if (request.strategy == "scale") {
      spec.strategy = session::Strategy::Scale;
    } else {
      throw Error(ErrorCategory::User,
                  "unknown exchange strategy \"" + request.strategy + "\" (" + field(names.strategy) + ")",
                  "use selector (the default) or scale", invalidField("exchange.strategy"));
    }
  }
  if (*mode == session::Mode::Mesh) {
    spec.matchers = matchersFor(request, request.caller == Caller::Ide);
  } else if (!request.matchers.empty()) {
    throw Error(
        ErrorCategory::User, std::string("header matchers belong to mesh, not ") + session::toString(*mode),
        request.caller == Caller::Ide ? "leave out mesh.matchers, or use mode mesh"
                                      : "leave out --header/--header-prefix/--header-regex/--baggage, or use "
                                        "`tether mesh`",
        invalidField("mesh.matchers"));
  }
  const auto outbound = session::parseOutbound(request.outbound.empty() ? "proxy" : request.outbound);
  if (!outbound) {
    const bool ide = request.caller == Caller::Ide;
    throw Error(
        ErrorCategory::User,
        "unknown outbound \"" + request.outbound + "\" (" + (ide ? "outbound" : "--outbound") + ")",
        "use proxy (the default: proxy variables, for HTTP clients), preload (also an LD_PRELOAD shim for "
        "dynamically linked programs: cluster names and addresses for any TCP client; Linux, glibc) or netns "
        "(every TCP connection and DNS query of the command, in its own network namespace; Linux)",
        invalidField("outbound"));
  }
  spec.outbound = *outbound;
  if (*mode == session::Mode::Preview) {
    static constexpr std::array<const char*, 3> kTypes{"ClusterIP", "NodePort", "LoadBalancer"};
    const auto& type = request.serviceType.empty() ? std::string("ClusterIP") : request.serviceType;
    bool known = false;
    for (const auto* choice : kTypes) known = known || type == choice;
    if (!known) {
      throw Error(ErrorCategory::User, "unknown Service type \"" + type + "\" (" + field(names.type) + ")",
                  "use ClusterIP (the default), NodePort or LoadBalancer", invalidField("preview.type"));
    }
    spec.serviceType = type;
  }
  return spec;
}

}  // namespace tether::core
