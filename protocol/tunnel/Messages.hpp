// Messages.hpp - typed payloads of the control frames, with encoders and non-throwing parsers.
//
// Each parser returns nullopt for a payload that is too short for its fields; trailing bytes are
// ignored so that a newer peer can append fields (TUNNEL.md, Compatibility).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "protocol/tunnel/Frame.hpp"

namespace tether::tunnel {

// The token itself never crosses the wire: each side proves it knows the token with an HMAC over both
// sides' nonces (Handshake.hpp), so a pod that is not the session's shadow learns nothing from a client.
struct Hello {
  std::uint16_t version = kProtocolVersion;
  std::string nonce;  // the client's, kNonceSize random bytes
  std::uint32_t maxFrame = 0;
  std::uint32_t streamWindow = 0;
  std::string peer;
};

struct Welcome {
  std::uint16_t version = kProtocolVersion;
  std::uint32_t maxFrame = 0;
  std::uint32_t streamWindow = 0;
  std::string peer;
  std::string nonce;     // the agent's, kNonceSize random bytes
  std::string identity;  // who the agent is: its pod's UID (empty when it does not know)
  std::string proof;     // agentProof(token, client nonce, agent nonce, identity)
};

struct Auth {
  std::string proof;  // clientProof(token, client nonce, agent nonce, identity)
};

enum class OpenKind : std::uint8_t { Dial = 0, FromListener = 1 };

struct Open {
  Open() = default;
  Open(OpenKind kindIn, std::uint16_t portIn, std::string hostIn, std::string localIn = {})
      : kind(kindIn), port(portIn), host(std::move(hostIn)), local(std::move(localIn)) {}

  OpenKind kind = OpenKind::Dial;
  std::uint16_t port = 0;  // the port to dial, or the listener's port
  std::string host;        // the host to dial, or the accepted peer's address ("ip:port")
  std::string local;       // FromListener: the address the peer connected to ("ip:port"); appended field
};

struct Status {  // RESET, GOAWAY
  Code code = Code::Ok;
  std::string message;
};

struct DnsReply {
  Code code = Code::Ok;
  std::string message;
  std::string answer;  // DNS wire format
};

struct ListenResult {
  Code code = Code::Ok;
  std::uint16_t port = 0;
  std::string message;
};

std::string encode(const Hello& m);
std::string encode(const Welcome& m);
std::string encode(const Auth& m);
std::string encode(const Open& m);
std::string encode(const Status& m);
std::string encode(const DnsReply& m);
std::string encode(const ListenResult& m);
std::string encodeU16(std::uint16_t v);
std::string encodeU32(std::uint32_t v);
std::string encodeU64(std::uint64_t v);

// HELLO and WELCOME share their frozen prefix (magic, version); `versionOf` reads only that prefix, so
// a peer of another version is reported as such even when the rest of its HELLO has changed.
std::optional<std::uint16_t> versionOf(std::string_view payload);
std::optional<Hello> parseHello(std::string_view payload);
std::optional<Welcome> parseWelcome(std::string_view payload);
std::optional<Auth> parseAuth(std::string_view payload);
std::optional<Open> parseOpen(std::string_view payload);
std::optional<Status> parseStatus(std::string_view payload);
std::optional<DnsReply> parseDnsReply(std::string_view payload);
std::optional<ListenResult> parseListenResult(std::string_view payload);
std::optional<std::uint16_t> parseU16(std::string_view payload);
std::optional<std::uint32_t> parseU32(std::string_view payload);
std::optional<std::uint64_t> parseU64(std::string_view payload);

// Compares secrets in time that depends only on their lengths, so a prober learns nothing from timing.
bool constantTimeEqual(std::string_view a, std::string_view b);

}  // namespace tether::tunnel
