// RouterTestSupport.hpp - what the router's tests run against: loopback HTTP/1.1 upstreams that name
// themselves in every answer and count what they saw, blocking clients that send exact bytes, and a router
// on its own io_context thread whose leases are put through its real control listener.
//
// Every blocking read has a receive timeout (RouterTestSupport::kReadBound) so a broken router fails a test
// instead of hanging it; nothing here waits for time to pass.
#pragma once

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "protocol/http1/Message.hpp"
#include "shadow/router/Router.hpp"

namespace tether::routertest {

inline constexpr int kReadBoundSeconds = 10;

// A connected blocking socket.
class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket();
  Socket(Socket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Socket& operator=(Socket&& other) noexcept;
  static Socket connectTo(std::uint16_t port);

  bool send(std::string_view bytes);
  // Up to `max` bytes, "" at EOF, error or the read bound.
  std::string receiveSome(std::size_t max = 65536);
  // Exactly `n` bytes (fewer at EOF or the bound).
  std::string receiveExactly(std::size_t n);
  // True when the peer closed (EOF or reset) within the read bound.
  bool closedByPeer();
  void shutdownSend();
  // Ends the connection (FIN) but keeps the descriptor, so its number is not reused while another thread
  // may still shut it down; returns it for the owner to close.
  int endAndDetach();
  int fd() const { return fd_; }

  std::string buffered;  // bytes read past the last parsed message

 private:
  int fd_ = -1;
};

// Everything up to and including the first `needle` (the rest stays in socket.buffered); "" at EOF.
std::string readUntilContains(Socket& socket, std::string_view needle);

struct Response {
  int status = 0;
  http1::Headers headers;
  std::string body;      // de-chunked
  std::string trailers;  // the raw trailer section of a chunked body ("" when none)
  bool chunked = false;
  std::string header(std::string_view name) const;
};

// Reads one response (interim ones too) from `socket`; nullopt on EOF or malformed bytes.
// `method` decides the framing of a HEAD answer.
std::optional<Response> readResponse(Socket& socket, std::string_view method = "GET");

struct Request {
  std::string method;
  std::string target;
  http1::Headers headers;
  std::string body;  // as received (chunked bodies de-chunked)
  std::string trailers;
};

// A loopback HTTP/1.1 server answering by the request's path:
//   any path:      200 "<name> <method> <target> len=<body length> sum=<fnv64 of body>", header x-served-by
//   /expect417:    417 at once, without reading the body, and close
//   /head1000:     Content-Length: 1000 and no body (meant for HEAD)
//   /204, /304:    that status, no body
//   /http10:       "HTTP/1.0 200 OK" with a body ended by close
//   /slowchunks:   chunk "one", then waits for release(), then chunk "two" and trailers x-sum: done
//   /ws:           101 to an Upgrade request, then echoes every byte until EOF
//   /ws-refuse:    400 with a body, connection kept
//   /arm-die:      200; the next request on this connection gets no answer: the connection closes
//   /die:          closes without an answer
// A request with `Expect: 100-continue` gets "100 Continue" before its body is read.
class NamedUpstream {
 public:
  explicit NamedUpstream(std::string name);
  ~NamedUpstream();
  NamedUpstream(const NamedUpstream&) = delete;
  NamedUpstream& operator=(const NamedUpstream&) = delete;

  std::uint16_t port() const { return port_; }
  const std::string& name() const { return name_; }
  int connections() const { return connections_; }
  int requests() const { return requests_; }
  int requestsTo(const std::string& target) const;
  std::optional<Request> lastRequest() const;
  // Lets every /slowchunks response send its second chunk.
  void release();
  void stop();

 private:
  void acceptLoop();
  void serve(int fd);
  void answer(Socket& socket);

  std::string name_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  mutable std::mutex mutex_;
  std::condition_variable released_;
  bool release_ = false;
  bool stopped_ = false;
  std::vector<std::string> targets_;
  std::optional<Request> last_;
  std::vector<int> open_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

// A loopback TCP server that writes `banner` on accept (if any) and echoes everything back.
class EchoServer {
 public:
  explicit EchoServer(std::string banner = "");
  ~EchoServer();
  std::uint16_t port() const { return port_; }

 private:
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::string banner_;
  std::mutex mutex_;
  std::vector<int> open_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

// A port nothing listens on (bound, then closed).
std::uint16_t closedPort();

std::uint64_t fnv64(std::string_view bytes);

// A router on its own thread. Ports: the routed ports, in order.
class RouterUnderTest {
 public:
  explicit RouterUnderTest(shadow::router::RouterConfig config);
  ~RouterUnderTest();

  std::uint16_t port(std::size_t index = 0) const { return router_->listeningPorts().at(index); }
  // One control line, its whole reply (a list's route lines included).
  std::string control(const std::string& line);
  std::string put(const std::string& id, const std::string& owner, std::uint16_t targetPort,
                  const std::string& matchers, int ttlMs = 60000, const std::string& onPort = "*");

 private:
  boost::asio::io_context ioc_{1};
  std::unique_ptr<shadow::router::Router> router_;
  std::thread thread_;
};

// A router config routing port 0 (any free port) to `stablePort` on loopback, sniffing.
shadow::router::RouterConfig routerConfig(std::uint16_t stablePort);

}  // namespace tether::routertest
