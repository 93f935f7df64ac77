// Handshake.hpp - the sans-io decisions of the tunnel handshake (TUNNEL.md, Handshake).
//
//   client                                   agent
//   HELLO {version, client nonce, limits} -->
//                                        <-- WELCOME {version, limits, agent nonce, identity, agent proof}
//   AUTH {client proof}                  -->  (then anything; the agent reads nothing else before AUTH)
//
// The token never crosses the wire. The agent proves it knows the token before the client sends anything
// but its nonce, and the client proves it before the agent serves anything, each with an HMAC-SHA256 keyed
// by the token over both nonces and the agent's identity (its pod UID). So a pod that took the shadow's
// name learns nothing it could use, and a client can also pin the identity it expects.
//
// Kept apart from the Asio driver so that the rules (version first, then the proofs in constant time) are
// unit-tested without sockets. The caller supplies the random nonces.
#pragma once

#include <string>
#include <string_view>

#include "protocol/tunnel/Frame.hpp"
#include "protocol/tunnel/Messages.hpp"

namespace tether::tunnel {

// Largest frame either side reads before the peer is authenticated.
inline constexpr std::size_t kHandshakeMaxFrame = 4096;
inline constexpr std::size_t kNonceSize = 32;

// HMAC-SHA256(token, label | client nonce | agent nonce | identity), each field length-prefixed.
std::string agentProof(std::string_view token, std::string_view clientNonce, std::string_view agentNonce,
                       std::string_view identity);
std::string clientProof(std::string_view token, std::string_view clientNonce, std::string_view agentNonce,
                        std::string_view identity);

struct HelloVerdict {
  Status status;  // Ok, or the reason sent back in GOAWAY
  Hello hello;    // valid when status.code == Ok
};

// The agent's check of the first frame a client sent: the version from the frozen prefix first, then the
// rest of HELLO.
HelloVerdict checkHello(const Frame& first);

struct WelcomeVerdict {
  Status status;  // Ok, or why the agent refused us (its GOAWAY) or why we refuse it
  Welcome welcome;
};

// The client's reading of the agent's first frame: its GOAWAY, or a WELCOME whose proof must match
// `token` and whose identity must be `expectedIdentity` (when that is not empty).
WelcomeVerdict checkWelcome(const Frame& first, std::string_view token, std::string_view clientNonce,
                            std::string_view expectedIdentity);

// The agent's check of the client's second frame: AUTH with the client's proof.
Status checkAuth(const Frame& second, std::string_view token, std::string_view clientNonce,
                 std::string_view agentNonce, std::string_view identity);

}  // namespace tether::tunnel
