// PreloadService.cpp - the shim's requests, its connections, and names resolved as a pod resolves them.
#include "server/tunnel/PreloadService.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <sstream>

#include "protocol/tunnel/asio/AcceptLoop.hpp"
#include "protocol/tunnel/asio/Spawn.hpp"
#include "server/tunnel/DnsMessage.hpp"
#include "server/tunnel/LocalListen.hpp"
#include "server/tunnel/Reach.hpp"
#include "support/text/LogText.hpp"

namespace tether::tunnelclient {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;
using local = asio::local::stream_protocol;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxRequest = 512;

void reset(tcp::socket& socket) {
  boost::system::error_code ec;
  socket.set_option(asio::socket_base::linger(true, 0), ec);
  socket.close(ec);
}

}  // namespace

PreloadService::PreloadService(std::shared_ptr<TunnelClient> tunnel, PreloadConfig config, ProxyConfig proxy)
    : tunnel_(std::move(tunnel)),
      config_(std::move(config)),
      proxy_(std::move(proxy)),
      requests_(tunnel_->executor()),
      connections_(tunnel_->executor()) {}

bool PreloadService::listen(const std::string& path, std::string& error) {
  ::unlink(path.c_str());  // left by a session of ours that was killed
  boost::system::error_code ec;
  requests_.open(local(), ec);
  const auto old = ::umask(0177);  // 0600 from the start
  if (!ec) requests_.bind(local::endpoint(path), ec);
  ::umask(old);
  if (!ec) requests_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error = path + ": " + ec.message();
    return false;
  }
  path_ = path;
  return bindLoopback(connections_, 0, error);
}

std::uint16_t PreloadService::port() const {
  return connections_.local_endpoint().port();
}

void PreloadService::close() {
  boost::system::error_code ec;
  requests_.close(ec);
  connections_.close(ec);
  for (auto* socket : carried_) socket->close(ec);
  if (!path_.empty()) ::unlink(path_.c_str());
}

asio::awaitable<void> PreloadService::serveRequests() {
  auto self = shared_from_this();
  while (requests_.is_open()) {
    auto [ec, socket] = co_await requests_.async_accept(kAwait);
    if (ec == asio::error::operation_aborted || !requests_.is_open()) co_return;
    if (ec) {
      // Out of descriptors, most likely: pause rather than spin on the session's only thread.
      asio::steady_timer pause(tunnel_->executor(), config_.acceptBackoff);
      co_await pause.async_wait(kAwait);
      continue;
    }
    tunnel::spawnLogged(tunnel_->executor(), self->answer(std::move(socket)), "preload request");
  }
}

asio::awaitable<void> PreloadService::answer(local::socket socket) {
  auto self = shared_from_this();
  asio::steady_timer deadline(tunnel_->executor(), config_.requestTimeout);
  std::string line;
  auto got =
      co_await (asio::async_read_until(socket, asio::dynamic_buffer(line, kMaxRequest), '\n', kAwait) ||
                deadline.async_wait(kAwait));
  if (got.index() == 1 || std::get<0>(std::get<0>(got))) co_return;
  std::istringstream words(line.substr(0, line.find('\n')));
  std::string verb;
  words >> verb;
  std::string reply = "E\n";
  if (verb == "R") {
    std::string name;
    words >> name;
    auto resolved = co_await (resolve(name) || deadline.async_wait(kAwait));
    if (resolved.index() == 0) reply = std::get<0>(resolved);
  } else if (verb == "C" || verb == "D") {
    unsigned localPort = 0, port = 0;
    std::string ip;
    words >> localPort >> ip >> port;
    if (localPort > 0 && localPort < 65536 && port > 0 && port < 65536 && isAddressLiteral(ip) &&
        announced_.size() < config_.maxAnnounced) {
      const auto key = static_cast<std::uint16_t>(localPort);
      const HostPort target{ip, static_cast<std::uint16_t>(port)};
      drop(key);
      expireAnnouncements();
      const auto generation = ++generation_;
      announced_[key] = Announced{target, generation, nullptr, std::chrono::steady_clock::now(), false};
      reply = "K\n";
      if (verb == "D") reply = co_await dialFirst(key, generation, target, deadline);
    }
  } else if (verb == "P") {
    unsigned localPort = 0;
    words >> localPort;
    reply = announcedReply(localPort);
  } else if (verb == "N") {
    std::string ip;
    words >> ip;
    const auto known = names_.find(ip);
    reply = "N\n";
    if (known != names_.end()) reply = "A " + known->second + "\n";
  }
  co_await (asio::async_write(socket, asio::buffer(reply), kAwait) || deadline.async_wait(kAwait));
}

struct PreloadService::Pending {
  explicit Pending(asio::any_io_executor executor)
      : done(executor, std::chrono::steady_clock::time_point::max()) {}
  asio::steady_timer done;  // cancelled when `reply` is set
  std::string reply;
};

std::string PreloadService::announcedReply(unsigned port) const {
  const auto found = port < 65536 ? announced_.find(static_cast<std::uint16_t>(port)) : announced_.end();
  if (found == announced_.end()) return "N\n";
  return "A " + found->second.target.host + " " + std::to_string(found->second.target.port) + "\n";
}

void PreloadService::expireAnnouncements() {
  // Only when many are kept: the usual case (a few connections) costs nothing.
  if (announced_.size() < 64) return;
  const auto oldest = std::chrono::steady_clock::now() - config_.announcementTtl;
  std::vector<std::uint16_t> stale;
  for (const auto& [port, announced] : announced_) {
    if (!announced.used && announced.at < oldest) stale.push_back(port);
  }
  for (const auto port : stale) drop(port);
}

void PreloadService::drop(std::uint16_t port) {
  const auto announced = announced_.find(port);
  if (announced == announced_.end()) return;
  // A stream dialled for a socket that never connected (or a port the program reuses) is let go with it.
  announced_.erase(announced);
}

asio::awaitable<std::string> PreloadService::dialFirst(std::uint16_t port, std::uint64_t generation,
                                                       HostPort target, asio::steady_timer& deadline) {
  auto self = shared_from_this();
  auto dialled = co_await (reach(*tunnel_, proxy_, target.host, target.port) || deadline.async_wait(kAwait));
  std::shared_ptr<Reached> reached;
  if (dialled.index() == 0) reached = std::make_shared<Reached>(std::move(std::get<0>(dialled)));
  const auto still = announced_.find(port);
  const bool mine = still != announced_.end() && still->second.generation == generation;
  if (!reached || !reached->ok()) {
    if (mine) announced_.erase(still);
    const auto code = reached ? reached->code : tunnel::Code::Timeout;
    if (code == tunnel::Code::Refused) co_return std::string("F refused\n");
    if (code == tunnel::Code::Timeout) co_return std::string("F timeout\n");
    if (code == tunnel::Code::DnsFailure) co_return std::string("F noname\n");
    co_return std::string("F unreachable\n");
  }
  // Else the port was announced again meanwhile, and the stream goes with `reached`.
  if (mine) still->second.dialled = std::move(reached);
  co_return std::string("K\n");
}

asio::awaitable<std::string> PreloadService::resolve(const std::string& name) {
  auto self = shared_from_this();
  const auto now = std::chrono::steady_clock::now();
  if (const auto kept = answers_.find(name); kept != answers_.end()) {
    if (kept->second.expires > now) co_return kept->second.reply;
    answers_.erase(kept);
  }
  if (const auto asked = pending_.find(name); asked != pending_.end()) {
    auto waiting = asked->second;  // someone is asking already: wait for that answer
    if (waiting->reply.empty()) co_await waiting->done.async_wait(kAwait);
    if (waiting->reply.empty()) co_return std::string("E\n");
    co_return waiting->reply;
  }
  auto mine = std::make_shared<Pending>(tunnel_->executor());
  pending_[name] = mine;
  std::string reply;
  try {
    reply = co_await resolveOnce(name);
  } catch (...) {
    reply = "E\n";
  }
  pending_.erase(name);
  mine->reply = reply;
  mine->done.cancel();
  if (reply[0] != 'E') {
    answers_[name] = Answer{reply, now + (reply[0] == 'A' ? config_.answerTtl : config_.noSuchNameTtl)};
    if (answers_.size() > 4096) answers_.erase(answers_.begin());  // bounded: an old answer goes
  }
  co_return reply;
}

asio::awaitable<std::string> PreloadService::resolveOnce(const std::string& rawName) {
  std::string name = rawName;
  const bool absolute = !name.empty() && name.back() == '.';
  while (!name.empty() && name.back() == '.') name.pop_back();
  std::vector<std::string> candidates;
  const auto dots = static_cast<int>(std::count(name.begin(), name.end(), '.'));
  if (absolute || dots >= config_.ndots) candidates.push_back(name);
  if (!absolute) {
    for (const auto& domain : config_.search) candidates.push_back(name + "." + domain);
    if (dots < config_.ndots) candidates.push_back(name);
  }
  for (const auto& candidate : candidates) {
    const auto query = dnsQuery(candidate, 1, nextQueryId_++);
    if (query.empty()) co_return std::string("N\n");
    auto conn = tunnel_->current();
    if (!conn) co_return std::string("E\n");
    auto reply = co_await conn->dns(query);
    if (reply.code != tunnel::Code::Ok) co_return std::string("E\n");
    const auto answer = parseDnsAnswer(reply.answer);
    if (answer.rcode == 0 && !answer.addresses.empty()) {
      std::string text = "A";
      std::size_t count = 0;
      for (const auto& address : answer.addresses) {
        if (++count > config_.maxAddresses) break;  // the shim's buffer holds this many
        text += " " + address;
        names_[address] = candidate;  // for getnameinfo: the cluster has no PTR records to ask
      }
      if (names_.size() > 65536) names_.erase(names_.begin());
      co_return text + "\n";
    }
    if (answer.rcode != 0 && answer.rcode != 3) co_return std::string("E\n");
  }
  co_return std::string("N\n");
}

asio::awaitable<void> PreloadService::serveConnections() {
  auto self = shared_from_this();
  const tunnel::OnAccepted onAccepted = [self](tcp::socket socket) {
    tunnel::spawnLogged(self->tunnel_->executor(), self->carry(std::move(socket)), "preload connection");
  };
  co_await tunnel::acceptLoop(connections_, "preload", onAccepted);
}

asio::awaitable<void> PreloadService::carry(tcp::socket socket) {
  auto self = shared_from_this();
  boost::system::error_code ec;
  const auto peer = socket.remote_endpoint(ec);
  // Only the shim's own socket: bound to 127.0.0.1 (another local user cannot bind 127.0.0.1:PORT while
  // it is held), announced a moment ago, and not taken already.
  auto found = announced_.end();
  if (!ec && peer.address() == asio::ip::address_v4::loopback()) found = announced_.find(peer.port());
  const bool fresh = found != announced_.end() && !found->second.used &&
                     std::chrono::steady_clock::now() - found->second.at < config_.announcementTtl;
  if (!fresh) {
    reset(socket);  // not a connection the shim announced: nobody else may use the session's way out
    co_return;
  }
  found->second.used = true;
  const auto localPort = found->first;
  const auto target = found->second.target;
  struct Forget {
    PreloadService& service;
    std::uint16_t port;
    std::uint64_t generation;
    tcp::socket* socket;
    ~Forget() {
      // The program's port may already belong to a newer socket it announced: that one stays.
      const auto announced = service.announced_.find(port);
      if (announced != service.announced_.end() && announced->second.generation == generation) {
        service.announced_.erase(announced);
      }
      service.carried_.erase(socket);
    }
  } forget{*this, localPort, found->second.generation, &socket};
  carried_.insert(&socket);
  Reached reached;
  if (found->second.dialled) {
    reached = std::move(*found->second.dialled);  // `D`: dialled while the program's connect() waited
    found->second.dialled.reset();
  } else {
    reached = co_await reach(*tunnel_, proxy_, target.host, target.port);
  }
  if (!reached.ok()) {
    spdlog::info("event=preload_open_failed host={} port={} code=\"{}\" reason=\"{}\"", target.host,
                 target.port, tunnel::toString(reached.code), support::logText(reached.message));
    reset(socket);  // the program reads ECONNRESET: refused or unreachable, not a hang
    co_return;
  }
  co_await join(std::move(reached), std::move(socket));
}

}  // namespace tether::tunnelclient
