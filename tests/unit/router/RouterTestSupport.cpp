// RouterTestSupport.cpp - blocking sockets, named upstreams and the router on a thread.
#include "tests/unit/router/RouterTestSupport.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

#include "protocol/http1/Body.hpp"

namespace tether::routertest {

namespace {

int listenLoopback(std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd, 128) != 0)
    throw std::runtime_error("cannot listen on loopback");
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  port = ntohs(address.sin_port);
  return fd;
}

void setReadBound(int fd) {
  timeval bound{kReadBoundSeconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Reads from `socket` into its buffer until `ready(buffer)` says how many bytes make the item, or EOF.
template <typename Ready>
std::optional<std::size_t> readUntil(Socket& socket, Ready ready) {
  for (;;) {
    if (auto n = ready(socket.buffered)) return n;
    auto more = socket.receiveSome();
    if (more.empty()) return std::nullopt;
    socket.buffered += more;
  }
}

// Reads a body framed by `framing` from `socket` and returns it de-chunked (trailers into `trailers`).
std::optional<std::string> readBody(Socket& socket, const http1::BodyFraming& framing,
                                    std::string& trailers) {
  if (framing.kind == http1::BodyFraming::Kind::None) return std::string();
  if (framing.kind == http1::BodyFraming::Kind::UntilClose) {
    std::string body = std::move(socket.buffered);
    socket.buffered.clear();
    for (;;) {
      auto more = socket.receiveSome();
      if (more.empty()) return body;
      body += more;
    }
  }
  if (framing.kind == http1::BodyFraming::Kind::Length) {
    if (!readUntil(socket, [&](const std::string& b) -> std::optional<std::size_t> {
          return b.size() >= framing.length ? std::optional<std::size_t>(framing.length) : std::nullopt;
        }))
      return std::nullopt;
    std::string body = socket.buffered.substr(0, framing.length);
    socket.buffered.erase(0, framing.length);
    return body;
  }
  std::string body;
  for (;;) {
    auto line = readUntil(socket, [](const std::string& b) -> std::optional<std::size_t> {
      const auto end = b.find("\r\n");
      return end == std::string::npos ? std::nullopt : std::optional<std::size_t>(end + 2);
    });
    if (!line) return std::nullopt;
    const std::size_t size = std::stoul(socket.buffered.substr(0, *line), nullptr, 16);
    socket.buffered.erase(0, *line);
    if (size == 0) {
      auto end = readUntil(socket, [](const std::string& b) -> std::optional<std::size_t> {
        if (b.rfind("\r\n", 0) == 0) return 2;
        const auto blank = b.find("\r\n\r\n");
        return blank == std::string::npos ? std::nullopt : std::optional<std::size_t>(blank + 4);
      });
      if (!end) return std::nullopt;
      trailers = socket.buffered.substr(0, *end - 2);
      socket.buffered.erase(0, *end);
      return body;
    }
    if (!readUntil(socket, [&](const std::string& b) -> std::optional<std::size_t> {
          return b.size() >= size + 2 ? std::optional<std::size_t>(size + 2) : std::nullopt;
        }))
      return std::nullopt;
    body += socket.buffered.substr(0, size);
    socket.buffered.erase(0, size + 2);
  }
}

std::optional<std::size_t> headReady(const std::string& bytes) {
  return http1::headEnd(bytes);
}

void writeResponse(Socket& socket, int status, const std::string& reason, const std::string& fields,
                   const std::string& body) {
  socket.send("HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n" + fields +
              "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
}

}  // namespace

Socket::~Socket() {
  if (fd_ >= 0) ::close(fd_);
}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
    buffered = std::move(other.buffered);
  }
  return *this;
}

Socket Socket::connectTo(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot connect to port " + std::to_string(port));
  }
  setReadBound(fd);
  return Socket(fd);
}

bool Socket::send(std::string_view bytes) {
  while (!bytes.empty()) {
    const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string Socket::receiveSome(std::size_t max) {
  std::string bytes(max, '\0');
  const auto n = ::recv(fd_, bytes.data(), max, 0);
  bytes.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return bytes;
}

std::string Socket::receiveExactly(std::size_t n) {
  while (buffered.size() < n) {
    auto more = receiveSome();
    if (more.empty()) break;
    buffered += more;
  }
  auto bytes = buffered.substr(0, n);
  buffered.erase(0, bytes.size());
  return bytes;
}

bool Socket::closedByPeer() {
  char byte;
  for (;;) {
    const auto n = ::recv(fd_, &byte, 1, 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

void Socket::shutdownSend() {
  ::shutdown(fd_, SHUT_WR);
}

int Socket::endAndDetach() {
  ::shutdown(fd_, SHUT_RDWR);
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

std::string Response::header(std::string_view name) const {
  const auto* found = http1::find(headers, name);
  return found ? found->value : "";
}

std::string readUntilContains(Socket& socket, std::string_view needle) {
  auto end = readUntil(socket, [&](const std::string& b) -> std::optional<std::size_t> {
    const auto found = b.find(needle);
    return found == std::string::npos ? std::nullopt : std::optional<std::size_t>(found + needle.size());
  });
  if (!end) return "";
  auto bytes = socket.buffered.substr(0, *end);
  socket.buffered.erase(0, *end);
  return bytes;
}

std::optional<Response> readResponse(Socket& socket, std::string_view method) {
  auto end = readUntil(socket, headReady);
  if (!end) return std::nullopt;
  auto parsed = http1::parseResponseHead(std::string_view(socket.buffered).substr(0, *end));
  socket.buffered.erase(0, *end);
  if (!parsed.head) return std::nullopt;
  Response response;
  response.status = parsed.head->status;
  response.headers = parsed.head->headers;
  response.chunked = http1::hasToken(response.headers, "Transfer-Encoding", "chunked");
  if (response.status < 200 || response.status == 101) return response;
  auto framing = http1::responseFraming(*parsed.head, method);
  if (!framing.framing) return std::nullopt;
  auto body = readBody(socket, *framing.framing, response.trailers);
  if (!body) return std::nullopt;
  response.body = std::move(*body);
  return response;
}

std::uint64_t fnv64(std::string_view bytes) {
  std::uint64_t hash = 1469598103934665603ULL;
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return hash;
}

NamedUpstream::NamedUpstream(std::string name) : name_(std::move(name)) {
  listener_ = listenLoopback(port_);
  acceptor_ = std::thread([this] { acceptLoop(); });
}

NamedUpstream::~NamedUpstream() {
  stop();
}

void NamedUpstream::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = true;
    release_ = true;
    for (const int fd : open_) ::shutdown(fd, SHUT_RDWR);
  }
  released_.notify_all();
  ::shutdown(listener_, SHUT_RDWR);
  acceptor_.join();
  for (auto& thread : threads_) thread.join();
  for (const int fd : open_) ::close(fd);
  ::close(listener_);
}

int NamedUpstream::requestsTo(const std::string& target) const {
  std::lock_guard lock(mutex_);
  int count = 0;
  for (const auto& seen : targets_) count += seen == target ? 1 : 0;
  return count;
}

std::optional<Request> NamedUpstream::lastRequest() const {
  std::lock_guard lock(mutex_);
  return last_;
}

void NamedUpstream::release() {
  {
    std::lock_guard lock(mutex_);
    release_ = true;
  }
  released_.notify_all();
}

void NamedUpstream::acceptLoop() {
  for (;;) {
    const int fd = ::accept(listener_, nullptr, nullptr);
    if (fd < 0) return;
    std::lock_guard lock(mutex_);
    if (stopped_) {
      ::close(fd);
      return;
    }
    ++connections_;
    open_.push_back(fd);
    threads_.emplace_back([this, fd] { serve(fd); });
  }
}

void NamedUpstream::serve(int fd) {
  setReadBound(fd);
  Socket socket(fd);
  answer(socket);
  socket.endAndDetach();  // stop() closes it
}

void NamedUpstream::answer(Socket& socket) {
  bool dieOnNext = false;
  for (;;) {
    auto end = readUntil(socket, headReady);
    if (!end) return;
    auto parsed = http1::parseRequestHead(std::string_view(socket.buffered).substr(0, *end));
    socket.buffered.erase(0, *end);
    if (!parsed.head) return;
    const auto& head = *parsed.head;
    ++requests_;
    {
      std::lock_guard lock(mutex_);
      targets_.push_back(head.target);
    }
    if (head.target == "/expect417") {
      writeResponse(socket, 417, "Expectation Failed", "Connection: close\r\n", name_ + " 417\n");
      return;
    }
    if (http1::find(head.headers, "Expect") != nullptr) socket.send("HTTP/1.1 100 Continue\r\n\r\n");
    Request request{head.method, head.target, head.headers, "", ""};
    auto framing = http1::requestFraming(head);
    if (!framing.framing) return;
    auto body = readBody(socket, *framing.framing, request.trailers);
    if (!body) return;
    request.body = std::move(*body);
    {
      std::lock_guard lock(mutex_);
      last_ = request;
    }
    if (dieOnNext || head.target == "/die") return;
    const std::string served = "x-served-by: " + name_ + "\r\n";
    if (head.target == "/arm-die") {
      dieOnNext = true;
    } else if (head.target == "/head1000") {
      socket.send("HTTP/1.1 200 OK\r\n" + served + "Content-Length: 1000\r\n\r\n");
      continue;
    } else if (head.target == "/204" || head.target == "/304") {
      socket.send("HTTP/1.1 " + head.target.substr(1) + " Empty\r\n" + served + "\r\n");
      continue;
    } else if (head.target == "/http10") {
      socket.send("HTTP/1.0 200 OK\r\n" + served + "\r\n" + name_ + " until close\n");
      return;
    } else if (head.target == "/slowchunks") {
      socket.send("HTTP/1.1 200 OK\r\n" + served + "Transfer-Encoding: chunked\r\n\r\n3\r\none\r\n");
      std::unique_lock lock(mutex_);
      released_.wait(lock, [&] { return release_; });
      lock.unlock();
      socket.send("3\r\ntwo\r\n0\r\nx-sum: done\r\n\r\n");
      continue;
    } else if (head.target == "/ws") {
      socket.send("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                  served + "\r\n");
      std::string pending = std::move(socket.buffered);
      for (;;) {
        if (!pending.empty() && !socket.send(pending)) return;
        pending = socket.receiveSome();
        if (pending.empty()) return;
      }
    } else if (head.target == "/ws-refuse") {
      writeResponse(socket, 400, "Bad Request", served, name_ + " refuses the upgrade\n");
      continue;
    }
    writeResponse(socket, 200, "OK", served,
                  name_ + " " + head.method + " " + head.target +
                      " len=" + std::to_string(request.body.size()) +
                      " sum=" + std::to_string(fnv64(request.body)) + "\n");
  }
}

EchoServer::EchoServer(std::string banner) : banner_(std::move(banner)) {
  listener_ = listenLoopback(port_);
  acceptor_ = std::thread([this] {
    for (;;) {
      const int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      std::lock_guard lock(mutex_);
      open_.push_back(fd);
      threads_.emplace_back([this, fd] {
        setReadBound(fd);
        Socket socket(fd);
        if (!banner_.empty()) socket.send(banner_);
        for (;;) {
          auto bytes = socket.receiveSome();
          if (bytes.empty() || !socket.send(bytes)) break;
        }
        socket.endAndDetach();  // the destructor closes it
      });
    }
  });
}

EchoServer::~EchoServer() {
  {
    std::lock_guard lock(mutex_);
    for (const int fd : open_) ::shutdown(fd, SHUT_RDWR);
  }
  ::shutdown(listener_, SHUT_RDWR);
  acceptor_.join();
  for (auto& thread : threads_) thread.join();
  for (const int fd : open_) ::close(fd);
  ::close(listener_);
}

std::uint16_t closedPort() {
  std::uint16_t port = 0;
  const int fd = listenLoopback(port);
  ::close(fd);
  return port;
}

shadow::router::RouterConfig routerConfig(std::uint16_t stablePort) {
  shadow::router::RouterConfig config;
  config.listenHost = "127.0.0.1";
  config.controlPort = 0;
  config.ports.push_back({0, "127.0.0.1", stablePort, shadow::router::PortProtocol::Sniff});
  return config;
}

RouterUnderTest::RouterUnderTest(shadow::router::RouterConfig config) {
  router_ = std::make_unique<shadow::router::Router>(ioc_, std::move(config));
  if (!router_->start()) throw std::runtime_error("the router did not start");
  thread_ = std::thread([this] { ioc_.run(); });
}

RouterUnderTest::~RouterUnderTest() {
  ioc_.stop();
  thread_.join();
  router_.reset();
}

std::string RouterUnderTest::control(const std::string& line) {
  auto socket = Socket::connectTo(router_->controlPort());
  socket.send(line + "\n");
  socket.shutdownSend();
  std::string reply;
  for (;;) {
    auto more = socket.receiveSome();
    if (more.empty()) return reply;
    reply += more;
  }
}

std::string RouterUnderTest::put(const std::string& id, const std::string& owner, std::uint16_t targetPort,
                                 const std::string& matchers, int ttlMs, const std::string& onPort) {
  return control("put " + id + " " + std::to_string(ttlMs) + " " + onPort +
                 " 127.0.0.1:" + std::to_string(targetPort) + " " + owner + " " + matchers);
}

}  // namespace tether::routertest
