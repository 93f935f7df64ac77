// Mode.cpp - mode names and plans.
#include "server/session/Mode.hpp"

namespace tether::session {

const char* toString(Mode mode) {
  switch (mode) {
    case Mode::Exchange:
      return "exchange";
    case Mode::Connect:
      return "connect";
    case Mode::Preview:
      return "preview";
    case Mode::Forward:
      return "forward";
    case Mode::Mesh:
      return "mesh";
  }
  return "exchange";
}

std::optional<Mode> parseMode(std::string_view text) {
  for (const auto mode : {Mode::Exchange, Mode::Connect, Mode::Preview, Mode::Forward, Mode::Mesh}) {
    if (text == toString(mode)) return mode;
  }
  return std::nullopt;
}

const char* modeChoices() {
  return "exchange, connect, preview, forward or mesh";
}

const char* toString(Outbound outbound) {
  switch (outbound) {
    case Outbound::Netns:
      return "netns";
    case Outbound::Preload:
      return "preload";
    case Outbound::Proxy:
      break;
  }
  return "proxy";
}

std::optional<Outbound> parseOutbound(std::string_view text) {
  for (const auto outbound : {Outbound::Proxy, Outbound::Netns, Outbound::Preload}) {
    if (text == toString(outbound)) return outbound;
  }
  return std::nullopt;
}

ModePlan planFor(Mode mode) {
  switch (mode) {
    case Mode::Exchange:
    case Mode::Mesh:
      // Mesh's "lock" joins the Service's mesh; moving traffic installs the router (first one in) and puts
      // the session's leases.
      return {.readsService = true, .locksService = true, .movesTraffic = true, .reverseListeners = true};
    case Mode::Preview:
      // ReadService checks that the name is free; MoveTraffic creates the Service once the tunnel is up.
      return {.readsService = true, .locksService = false, .movesTraffic = true, .reverseListeners = true};
    case Mode::Forward:
      return {.readsService = true, .locksService = false, .movesTraffic = false, .reverseListeners = false};
    case Mode::Connect:
      return {};
  }
  return {};
}

}  // namespace tether::session
