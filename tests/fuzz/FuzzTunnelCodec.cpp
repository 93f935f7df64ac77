// FuzzTunnelCodec.cpp - libFuzzer target: arbitrary bytes through the tunnel frame decoder, every
// payload parser and an agent-side multiplexer (DATA of odd length that may be delivered directly is, half
// of it, as after a short socket write; and it sends through prepareSend). It proves that no input crashes,
// hangs or buffers beyond the limits, and checks that the decoder never holds more than one frame plus a
// header and the mux's receive buffers never more than its budget.
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
  config.maxOwnStreams = 4;
  config.maxPeerStreams = 8;
  config.maxBuffered = 6000;  // below streamWindow * maxPeerStreams, so the budget's resets are reached
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
      const FrameView v = view(*frame);
      if (mux.canDeliverDirect(v) && v.payload.size() % 2 == 1) {
        mux.receiveDelivered(v, v.payload.size() / 2);
      } else {
        mux.receive(v);
      }
      while (auto e = mux.popEvent()) {
        if (e->kind == MuxEvent::Kind::Opened) mux.accept(e->id);
        if (e->kind == MuxEvent::Kind::Readable) mux.consume(e->id, mux.peek(e->id).size() / 2);
        if (e->kind == MuxEvent::Kind::Writable || e->kind == MuxEvent::Kind::Opened) {
          const auto space = mux.prepareSend(e->id, e->id % 700);
          mux.commitSend(e->id, space.size() / 2);
        }
      }
      if (mux.bufferedBytes() > mux.heldBytes() || mux.heldBytes() > config.maxBuffered) std::abort();
    }
  }
  ByteBuffer out;
  mux.takeOutput(out);
  return 0;
}
