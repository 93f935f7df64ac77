// Config.hpp - every bound the tunnel driver waits with, in one struct of named durations (the
// Boost.Redis habit): no wait in the driver is unbounded, and each bound is tunable by its name.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "protocol/tunnel/Mux.hpp"

namespace tether::tunnel {

struct ConnectionConfig {
  std::chrono::milliseconds handshakeTimeout{5000};     // HELLO -> WELCOME
  std::chrono::milliseconds keepaliveInterval{5000};    // checked this often: PING after 3/4 of it in silence
  std::chrono::milliseconds keepaliveTimeout{20000};    // silence from the peer that declares it dead
  std::chrono::milliseconds openTimeout{10000};         // OPEN -> ACCEPT or RESET
  std::chrono::milliseconds requestTimeout{10000};      // DNS_QUERY, LISTEN -> their answer
  std::chrono::milliseconds writeTimeout{30000};        // one transport write that makes no progress
  std::chrono::milliseconds streamIdleTimeout{600000};  // a stream with no byte either way is reset
  std::chrono::milliseconds drainTimeout{5000};         // after GOAWAY, streams get this long to finish
  std::uint32_t maxFrame = 256u * 1024u;                // our decoder limit, announced in the handshake
  MuxConfig mux;
  std::string peerName = "tether";  // announced in HELLO/WELCOME, for the peer's logs
  // The agent's identity (its pod UID): the agent announces it in WELCOME, inside its proof; a client that
  // sets it refuses an agent announcing anything else (Code::WrongPeer). Empty: announce or expect none.
  std::string identity;
};

}  // namespace tether::tunnel
