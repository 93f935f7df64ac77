// Handshake.cpp - version checks, the HMAC proofs both sides give, and the client's view of WELCOME.
#include "protocol/tunnel/Handshake.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "protocol/tunnel/Wire.hpp"

namespace tether::tunnel {

namespace {

std::string versionText(std::uint16_t theirs, std::string_view who) {
  return "agent speaks tunnel protocol " + std::to_string(kProtocolVersion) + ", " + std::string(who) +
         " sent " + std::to_string(theirs);
}

std::string proof(std::string_view label, std::string_view token, std::string_view clientNonce,
                  std::string_view agentNonce, std::string_view identity) {
  // Length-prefixed fields, so no two different inputs make the same message.
  std::string message;
  WireWriter w(message);
  w.str16(label);
  w.str16(clientNonce);
  w.str16(agentNonce);
  w.str16(identity);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const auto* ok =
      HMAC(EVP_sha256(), token.data(), static_cast<int>(token.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
  if (ok == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(digest), length);
}

}  // namespace

std::string agentProof(std::string_view token, std::string_view clientNonce, std::string_view agentNonce,
                       std::string_view identity) {
  return proof("tether tunnel v2 agent", token, clientNonce, agentNonce, identity);
}

std::string clientProof(std::string_view token, std::string_view clientNonce, std::string_view agentNonce,
                        std::string_view identity) {
  return proof("tether tunnel v2 client", token, clientNonce, agentNonce, identity);
}

HelloVerdict checkHello(const Frame& first) {
  HelloVerdict v;
  if (first.type != FrameType::Hello) {
    v.status = {Code::ProtocolError, "expected HELLO, got " + std::string(toString(first.type))};
    return v;
  }
  // The version is read from the frozen prefix first, so a newer client whose HELLO grew differently
  // still hears "version mismatch" instead of "malformed".
  auto version = versionOf(first.payload);
  if (!version) {
    v.status = {Code::ProtocolError, "HELLO without the tunnel magic"};
    return v;
  }
  if (*version != kProtocolVersion) {
    v.status = {Code::VersionMismatch, versionText(*version, "client")};
    return v;
  }
  auto hello = parseHello(first.payload);
  if (!hello) {
    v.status = {Code::ProtocolError, "malformed HELLO"};
    return v;
  }
  if (hello->nonce.size() != kNonceSize) {
    v.status = {Code::ProtocolError, "HELLO nonce of " + std::to_string(hello->nonce.size()) + " bytes"};
    return v;
  }
  if (hello->maxFrame < 1024 || hello->streamWindow < 1024) {
    v.status = {Code::ProtocolError, "max_frame and stream_window must be at least 1024"};
    return v;
  }
  v.hello = std::move(*hello);
  return v;
}

WelcomeVerdict checkWelcome(const Frame& first, std::string_view token, std::string_view clientNonce,
                            std::string_view expectedIdentity) {
  WelcomeVerdict v;
  if (first.type == FrameType::Goaway) {
    v.status = parseStatus(first.payload).value_or(Status{Code::ProtocolError, "malformed GOAWAY"});
    return v;
  }
  if (first.type != FrameType::Welcome) {
    v.status = {Code::ProtocolError, "expected WELCOME, got " + std::string(toString(first.type))};
    return v;
  }
  auto version = versionOf(first.payload);
  if (version && *version != kProtocolVersion) {
    v.status = {Code::VersionMismatch, "client speaks tunnel protocol " + std::to_string(kProtocolVersion) +
                                           ", agent answered " + std::to_string(*version)};
    return v;
  }
  auto welcome = parseWelcome(first.payload);
  if (!welcome || welcome->maxFrame < 1024 || welcome->streamWindow < 1024 ||
      welcome->nonce.size() != kNonceSize) {
    v.status = {Code::ProtocolError, "malformed WELCOME"};
    return v;
  }
  const auto expected = agentProof(token, clientNonce, welcome->nonce, welcome->identity);
  if (expected.empty() || !constantTimeEqual(welcome->proof, expected)) {
    v.status = {Code::BadToken,
                "the agent could not prove it holds this session's token: the pod is not this session's "
                "shadow, or this backend was given another token"};
    return v;
  }
  if (!expectedIdentity.empty() && welcome->identity != expectedIdentity) {
    v.status = {Code::WrongPeer,
                "the agent is pod " +
                    (welcome->identity.empty() ? std::string("(unknown)") : welcome->identity) +
                    ", not the shadow pod this session created (" + std::string(expectedIdentity) + ")"};
    return v;
  }
  v.welcome = std::move(*welcome);
  return v;
}

Status checkAuth(const Frame& second, std::string_view token, std::string_view clientNonce,
                 std::string_view agentNonce, std::string_view identity) {
  if (second.type == FrameType::Goaway) {
    return parseStatus(second.payload).value_or(Status{Code::ProtocolError, "malformed GOAWAY"});
  }
  if (second.type != FrameType::Auth) {
    return {Code::ProtocolError, "expected AUTH, got " + std::string(toString(second.type))};
  }
  auto auth = parseAuth(second.payload);
  if (!auth) return {Code::ProtocolError, "malformed AUTH"};
  const auto expected = clientProof(token, clientNonce, agentNonce, identity);
  if (expected.empty() || !constantTimeEqual(auth->proof, expected))
    return {Code::BadToken, "wrong session token"};
  return {};
}

}  // namespace tether::tunnel
