// Handshake.hpp - the sans-io decisions of the tunnel handshake (TUNNEL.md, Handshake): what the agent
// answers to a client's first frame, and what the client makes of the agent's answer.
//
// Kept apart from the Asio driver so that the rules (version first, then the token in constant time,
// then WELCOME) are unit-tested without sockets.
#pragma once

#include <string>
#include <string_view>

#include "protocol/tunnel/Frame.hpp"
#include "protocol/tunnel/Messages.hpp"

namespace tether::tunnel {

// Largest first frame the agent reads before the peer is authenticated.
inline constexpr std::size_t kHandshakeMaxFrame = 4096;

struct HelloVerdict {
  Status status;  // Ok, or the reason sent back in GOAWAY
  Hello hello;    // valid when status.code == Ok
};

// The agent's check of the first frame a client sent.
HelloVerdict checkHello(const Frame& first, std::string_view expectedToken);

struct WelcomeVerdict {
  Status status;  // Ok, or why the agent refused us (its GOAWAY) or why we refuse it
  Welcome welcome;
};

// The client's reading of the agent's first frame.
WelcomeVerdict checkWelcome(const Frame& first);

}  // namespace tether::tunnel
