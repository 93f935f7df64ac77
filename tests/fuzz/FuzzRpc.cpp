// FuzzRpc.cpp - libFuzzer target: arbitrary bytes through the Content-Length decoder and the real
// dispatcher with Tether's method table. It proves that no input crashes, hangs or leaks, and checks
// the invariant that every request frame gets at most one response.
// fuzz-links: tether_ide
#include <spdlog/spdlog.h>
#include <boost/json/parse.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "protocol/jsonrpc/Framing.hpp"
#include "server/ide/TetherServer.hpp"
#include "server/rpc/InMemoryTransport.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool quiet = [] {
    spdlog::set_level(spdlog::level::off);
    return true;
  }();
  (void)quiet;

  using namespace tether;
  jsonrpc::FrameLimits limits;
  limits.maxContentLength = 1 << 16;  // small cap so the oversize path is reachable
  jsonrpc::ContentLengthDecoder decoder(limits);
  rpc::InMemoryTransport out;
  rpc::Dispatcher dispatcher(out);
  ide::TetherServer server(dispatcher);

  // Split the input in two feeds at a data-dependent point, so partial reads are exercised too.
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t split = size == 0 ? 0 : data[0] % (size + 1);
  std::size_t frames = 0;
  bool running = true;
  for (const auto part : {input.substr(0, split), input.substr(split)}) {
    decoder.feed(part);
    while (running) {
      auto event = decoder.next();
      if (!event) break;
      if (!event->isFrame()) {
        dispatcher.onFramingError(event->text);
        continue;
      }
      ++frames;
      running = dispatcher.onFrame(event->text);
    }
  }
  // Every frame produces at most one response (requests), or none (notifications, exit).
  if (out.outputCount() > frames) std::abort();
  return 0;
}
