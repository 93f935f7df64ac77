// FuzzMeshControl.cpp - libFuzzer target for what the mesh router reads from others: control lines (a
// request, a reply, a route line) and the first bytes of a client connection (the protocol sniffer). It
// checks what must hold whatever the bytes: a put that parses encodes to a line that parses to the same
// lease, a sniffer's verdict never changes once more bytes arrive after a decision, and nothing throws or
// reads out of bounds.
// fuzz-links: tether_mesh
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol/mesh/Control.hpp"
#include "protocol/mesh/Sniff.hpp"

using namespace tether::mesh;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto request = parseRequest(input);
  if (const auto* put = std::get_if<PutRequest>(&request)) {
    const auto line = encodePut(put->lease, put->ttl);
    const auto again = parseRequest(std::string_view(line).substr(0, line.size() - 1));
    const auto* same = std::get_if<PutRequest>(&again);
    if (same == nullptr || same->ttl != put->ttl || same->lease.id != put->lease.id ||
        same->lease.owner != put->lease.owner || same->lease.matchers != put->lease.matchers ||
        same->lease.target.host != put->lease.target.host ||
        same->lease.target.port != put->lease.target.port)
      std::abort();
  }
  if (auto reply = parseReply(input)) {
    const auto line = encodeReply(*reply);
    const auto again = parseReply(std::string_view(line).substr(0, line.size() - 1));
    if (!again || again->kind != reply->kind || again->warnings != reply->warnings) std::abort();
  }
  std::string error;
  (void)parseRouteLine(input, error);

  // A decided verdict stands: the router stops reading at the first decision, so a later byte must not be
  // able to turn (say) TLS into HTTP.
  const auto verdict = classify(input);
  for (std::size_t cut = 0; cut < input.size() && cut < 64; ++cut) {
    const auto early = classify(input.substr(0, cut));
    if (early != Sniffed::Undecided && early != verdict) std::abort();
  }
  return 0;
}
