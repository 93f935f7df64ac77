// FuzzSpdyPortForward.cpp - libFuzzer target: arbitrary bytes from a "server" into kubectl's port-forward
// protocol as Tether speaks it (SPDY/3.1 frames, zlib header blocks, stream pairs), cut at a point the
// input chooses. No input may crash, hang, or make the client hold more than one frame of input.
// fuzz-links: tether_spdy
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/kube/spdy/PortForwardMux.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tether::kube::spdy;
  if (size == 0) return 0;
  // The first byte chooses where the rest is cut in two, as WebSocket messages may cut frames anywhere.
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  constexpr std::size_t kLimit = 4096;
  PortForwardMux mux(PortForwardMuxConfig{kLimit, 512});
  const auto first = mux.open(80);
  const auto second = mux.open(81);
  const std::size_t cut = data[0] % (input.size() + 1);
  for (auto piece : {input.substr(0, cut), input.substr(cut)}) {
    mux.receive(piece);
    while (auto event = mux.popEvent()) {
      if (event->kind == PortForwardEvent::Kind::Data && event->text.size() > kLimit) std::abort();
      if (event->kind == PortForwardEvent::Kind::Error && event->text.size() > 64 * 1024) std::abort();
    }
    std::string out;
    mux.takeOutput(out);
  }
  if (first) mux.send(*first, "request");
  if (second) mux.release(*second);
  if (mux.failure() && mux.open(82)) std::abort();  // a failed connection opens nothing more
  return 0;
}
