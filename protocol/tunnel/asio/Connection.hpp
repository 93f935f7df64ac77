// Connection.hpp - the Asio driver of one tunnel connection: the handshake, then a read loop, a write
// loop and a keepalive/housekeeping loop joined with `||`, around the sans-io Mux.
//
// Threading: a Connection and every coroutine that touches it (pumps, handlers) run on one executor
// that must be a strand or a single-threaded io_context; the binaries run one thread, which is the
// cheapest strand there is on a 2-core machine shared by both ends. Nothing here blocks that thread.
//
// Waiting: a coroutine that needs a stream event (credit, data, ACCEPT, RESET) waits on a timer of its
// own, armed with the bound it was given, and registered with the stream; events cancel the registered
// timers. So every wait has a bound from ConnectionConfig, and a stalled stream wakes only its own pump.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "protocol/tunnel/Codec.hpp"
#include "protocol/tunnel/Messages.hpp"
#include "protocol/tunnel/Mux.hpp"
#include "protocol/tunnel/asio/ByteStream.hpp"
#include "protocol/tunnel/asio/Config.hpp"

namespace tether::tunnel {

class Connection;

// What a side does with requests from its peer. Handlers run on the connection's executor and must not
// block; long work is co_spawned. The defaults refuse everything.
class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  virtual void onOpen(const std::shared_ptr<Connection>& conn, std::uint32_t id, const Open& target);
  virtual void onListen(const std::shared_ptr<Connection>& conn, std::uint32_t requestId, std::uint16_t port);
  virtual void onUnlisten(const std::shared_ptr<Connection>& conn, std::uint16_t port);
  virtual void onDnsQuery(const std::shared_ptr<Connection>& conn, std::uint32_t requestId,
                          std::string query);
  virtual void onGoaway(const std::shared_ptr<Connection>& conn, const Status& status);
  // The handshake succeeded; called before any frame of the peer is handled.
  virtual void onEstablished(const std::shared_ptr<Connection>& conn);
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Executor = boost::asio::any_io_executor;

  static std::shared_ptr<Connection> create(Executor executor, std::unique_ptr<ByteStream> stream, Role role,
                                            ConnectionConfig config, ConnectionHandler& handler);
  ~Connection();

  // Handshake (as client with `token`, or as agent expecting `token`), then serve until the transport
  // ends or close() is called. Returns why it ended; Code::Ok only for a local close().
  boost::asio::awaitable<Status> run(std::string token);
  bool established() const { return mux_ != nullptr; }
  const std::string& peerName() const { return peerName_; }
  std::string describe() const { return stream_->describe(); }
  Executor executor() const { return executor_; }

  // Opens a stream and waits (openTimeout) for ACCEPT or RESET. Returns the id with Ok, or the reason.
  // `target` is read before the first suspension only. (Coroutine parameters here are never brace-initialised
  // aggregates: GCC 12 mis-destroys such prvalue arguments.)
  boost::asio::awaitable<std::pair<Status, std::uint32_t>> open(const Open& target);
  // Opens without waiting (the reverse path sends data at once); nullopt when refused locally.
  std::optional<std::uint32_t> openNow(const Open& target);
  void accept(std::uint32_t id);
  // Queues bytes a proxy already read from its client (e.g. past an HTTP head) within the stream's
  // credit; returns how many were taken.
  std::size_t sendNow(std::uint32_t id, std::string_view bytes);
  void reset(std::uint32_t id, Code code, std::string_view message);
  // Forgets a stream that will never be pumped (a stream not closed both ways is reset first).
  void release(std::uint32_t id);
  // Moves bytes between `socket` and stream `id` until both directions ended or the stream is reset,
  // then releases the stream. A reset stream ends the socket with an RST so the local peer never hangs.
  boost::asio::awaitable<void> pump(std::uint32_t id, boost::asio::ip::tcp::socket socket);

  // Stream I/O for a caller that reads and writes a stream itself instead of pumping it to a socket (the
  // HTTP proxy, which frames every request). Each wait is bounded by streamIdleTimeout.
  struct ReadResult {
    std::size_t appended = 0;      // bytes appended to `out`
    bool finished = false;         // the peer sent FIN and every byte was read
    std::optional<Status> failed;  // the stream was reset, or no byte came within the bound
  };
  // Appends up to `max` received bytes of stream `id` to `out`, waiting for at least one (or an end).
  boost::asio::awaitable<ReadResult> readSome(std::uint32_t id, std::string& out, std::size_t max);
  // Sends all of `bytes`, waiting for credit as needed; the reason when the stream failed first.
  boost::asio::awaitable<Status> writeAll(std::uint32_t id, std::string_view bytes);
  // Half-closes our direction (FIN).
  void finish(std::uint32_t id);
  // True when stream `id` can carry another exchange: open both ways and nothing unread.
  bool idleAndOpen(std::uint32_t id) const;

  boost::asio::awaitable<DnsReply> dns(std::string query);
  boost::asio::awaitable<ListenResult> listen(std::uint16_t port);
  void unlisten(std::uint16_t port);
  void replyDns(std::uint32_t requestId, const DnsReply& reply);
  void replyListen(std::uint32_t requestId, const ListenResult& result);

  // GOAWAY, then wait up to drainTimeout for the streams to finish, then close.
  boost::asio::awaitable<void> drainAndClose(Code code, std::string message);
  void close(Status reason);

  std::optional<std::chrono::microseconds> rtt() const { return rtt_; }
  std::size_t streamCount() const { return mux_ ? mux_->streamCount() : 0; }
  const ConnectionConfig& config() const { return config_; }

 private:
  struct Waiters {
    std::vector<boost::asio::steady_timer*> timers;
    boost::asio::ip::tcp::socket* socket = nullptr;
    std::chrono::steady_clock::time_point lastActivity;
  };
  struct Pending {
    boost::asio::steady_timer* timer = nullptr;
    std::optional<MuxEvent> answer;
  };

  Connection(Executor executor, std::unique_ptr<ByteStream> stream, Role role, ConnectionConfig config,
             ConnectionHandler& handler);

  boost::asio::awaitable<Status> handshake(const std::string& token);
  boost::asio::awaitable<std::optional<Frame>> readFirstFrame(Status& error);
  boost::asio::awaitable<Status> readLoop();
  boost::asio::awaitable<Status> writeLoop();
  boost::asio::awaitable<Status> housekeeping();
  boost::asio::awaitable<void> pumpUp(std::uint32_t id, boost::asio::ip::tcp::socket& socket);
  boost::asio::awaitable<void> pumpDown(std::uint32_t id, boost::asio::ip::tcp::socket& socket);
  // Waits for an event on stream `id`, at most `bound`; false when the bound expired.
  boost::asio::awaitable<bool> waitStream(std::uint32_t id, std::chrono::steady_clock::duration bound);
  boost::asio::awaitable<std::optional<MuxEvent>> waitAnswer(std::uint32_t requestId);
  void processFrames();
  bool deliverDirect(const FrameView& frame);
  void dispatchEvents();
  void wake(std::uint32_t id, bool cancelSocket);
  void touch(std::uint32_t id);
  void kickWriter();
  void teardown(const Status& status);

  Executor executor_;
  std::unique_ptr<ByteStream> stream_;
  Role role_;
  ConnectionConfig config_;
  ConnectionHandler& handler_;
  FrameDecoder decoder_;
  std::unique_ptr<Mux> mux_;
  std::string peerName_;
  std::unordered_map<std::uint32_t, Waiters> waiters_;
  std::unordered_map<std::uint32_t, Pending> pending_;
  ByteBuffer writing_;  // the output being written; swapped with the mux's queue, so both stay allocated
  boost::asio::steady_timer writerWake_;
  boost::asio::steady_timer drainWake_;
  bool writerIdle_ = false;
  bool closing_ = false;
  bool torn_ = false;
  Status closeReason_{Code::Ok, "closed locally"};
  std::chrono::steady_clock::time_point lastReceived_;
  std::optional<std::chrono::steady_clock::time_point> writeStarted_;
  std::optional<std::chrono::microseconds> rtt_;
};

}  // namespace tether::tunnel
