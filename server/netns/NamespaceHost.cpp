// NamespaceHost.cpp - the control socket, each wrapper's hello/config/ready exchange, the sockets put to
// work, and the connections carried into the namespace.
#include "server/netns/NamespaceHost.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>

#include "protocol/tunnel/asio/AcceptLoop.hpp"
#include "protocol/tunnel/asio/Spawn.hpp"
#include "server/netns/FdMessage.hpp"
#include "server/tunnel/DnsForwarder.hpp"
#include "server/tunnel/LocalListen.hpp"
#include "server/tunnel/Splice.hpp"
#include "server/tunnel/TransparentProxy.hpp"
#include "support/text/LogText.hpp"

namespace tether::netns {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

std::string wordAt(const std::vector<std::string>& items, std::size_t index) {
  return index < items.size() ? items[index] : std::string();
}

// Waits until `control` has a message or `bound` passes; the message, or nothing on timeout.
asio::awaitable<std::optional<Received>> nextMessage(asio::posix::stream_descriptor& control,
                                                     std::chrono::milliseconds bound) {
  asio::steady_timer timer(control.get_executor(), bound);
  for (;;) {
    auto woke = co_await (control.async_wait(asio::posix::descriptor_base::wait_read, kAwait) ||
                          timer.async_wait(kAwait));
    if (woke.index() == 1) co_return std::nullopt;
    auto received = receiveMessage(control.native_handle(), /*nonBlocking=*/true);
    if (received.error == EAGAIN) continue;
    co_return received;
  }
}

}  // namespace

struct NamespaceHost::Link {
  explicit Link(asio::any_io_executor executor, int fd) : control(executor, fd) {}

  struct Pending {
    explicit Pending(asio::any_io_executor executor) : wake(executor) {}
    asio::steady_timer wake;
    int fd = -1;
    bool answered = false;
  };

  asio::posix::stream_descriptor control;
  std::string pid = "?";
  std::shared_ptr<tunnelclient::TransparentProxy> transparent;
  std::unique_ptr<tunnelclient::DnsForwarder> dns;
  std::vector<std::unique_ptr<tcp::acceptor>> inbound;
  std::map<std::uint64_t, Pending*> pending;
  std::uint64_t nextSeq = 1;
  std::chrono::milliseconds dialTimeout{5000};

  void close() {
    boost::system::error_code ec;
    control.close(ec);
    if (transparent) transparent->close();
    if (dns) dns->close();
    for (auto& acceptor : inbound) acceptor->close(ec);
    for (auto& [seq, waiting] : pending) waiting->wake.cancel();
  }
};

std::string privateSocketPath(const std::string& name, std::string& error) {
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  const std::string dir = runtime != nullptr && *runtime == '/' ? std::string(runtime) + "/tether"
                                                                : "/tmp/tether-" + std::to_string(::getuid());
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    error = "cannot create " + dir + ": " + std::strerror(errno);
    return {};
  }
  struct stat info {};
  if (::lstat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode) || info.st_uid != ::getuid() ||
      (info.st_mode & 077) != 0) {
    // Someone else's directory (or a symlink) in /tmp: a socket there could be listened on by them.
    error = dir + " is not a private directory of this user (expected mode 0700, owned by uid " +
            std::to_string(::getuid()) + "); remove it or set XDG_RUNTIME_DIR";
    return {};
  }
  return dir + "/" + name;
}

std::vector<std::string> wrapperCommand(const std::string& controlPath) {
  char self[4096];
  const auto length = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  const std::string executable = length > 0 ? std::string(self, static_cast<std::size_t>(length)) : "tether";
  return {executable, "netns-exec", "--control", controlPath, "--"};
}

NamespaceHost::NamespaceHost(std::shared_ptr<tunnelclient::TunnelClient> tunnel, NamespaceConfig config)
    : tunnel_(std::move(tunnel)), config_(std::move(config)) {}

NamespaceHost::~NamespaceHost() {
  if (!path_.empty()) ::unlink(path_.c_str());
}

bool NamespaceHost::listen(const std::string& path, std::string& error) {
  sockaddr_un address{};
  if (path.size() >= sizeof(address.sun_path)) {
    error = "the control socket path is too long for a Unix socket: " + path;
    return false;
  }
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  ::unlink(path.c_str());  // a socket left by a session of ours that was killed
  const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  const auto old = ::umask(0177);  // 0600 from the start: no moment where another user could connect
  const bool bound = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::umask(old);
  if (!bound || ::listen(fd, 16) != 0) {
    error = path + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return false;
  }
  path_ = path;
  accepting_ = std::make_unique<asio::posix::stream_descriptor>(tunnel_->executor(), fd);
  return true;
}

void NamespaceHost::close() {
  boost::system::error_code ec;
  if (accepting_) accepting_->close(ec);
  for (const auto& link : links_) link->close();
  if (!path_.empty()) ::unlink(path_.c_str());
}

asio::awaitable<void> NamespaceHost::serve() {
  auto self = shared_from_this();
  while (accepting_ && accepting_->is_open()) {
    auto [ec] = co_await accepting_->async_wait(asio::posix::descriptor_base::wait_read, kAwait);
    if (ec || !accepting_->is_open()) co_return;
    const int fd = ::accept4(accepting_->native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      // Out of descriptors, most likely: pause rather than spin on the session's only thread.
      asio::steady_timer pause(tunnel_->executor(), config_.acceptBackoff);
      co_await pause.async_wait(kAwait);
      continue;
    }
    if (links_.size() >= config_.maxLinks) {
      sendMessage(fd, "refused too many namespaces attached to this session (NamespaceConfig::maxLinks)");
      ::close(fd);
      continue;
    }
    auto link = std::make_shared<Link>(tunnel_->executor(), fd);
    link->dialTimeout = config_.dialTimeout;
    links_.insert(link);
    tunnel::spawnLogged(tunnel_->executor(), runLink(self, link), "netns link");
  }
}

asio::awaitable<void> NamespaceHost::runLink(std::shared_ptr<NamespaceHost> self,
                                             std::shared_ptr<Link> link) {
  struct Forget {
    NamespaceHost& host;
    std::shared_ptr<Link> link;
    ~Forget() {
      link->close();
      host.links_.erase(link);
    }
  } forget{*self, link};
  const int control = link->control.native_handle();
  const auto& config = self->config_;

  auto hello = co_await nextMessage(link->control, config.setupTimeout);
  // No class-type temporaries in conditional expressions in coroutines (GCC 12 destroys them twice).
  std::vector<std::string> helloWords;
  if (hello) helloWords = words(hello->text);
  if (hello) {
    for (const int fd : hello->fds) ::close(fd);  // a hello carries none; whatever came is not ours to keep
  }
  // close() may have run while we waited: the descriptor number could belong to someone else by now.
  if (!link->control.is_open()) co_return;
  if (helloWords.empty() || helloWords[0] != "hello" || valueOf(helloWords, "version") != "1") {
    spdlog::warn("event=netns_refused reason=\"no hello from a tether netns-exec of this version\"");
    sendMessage(control, "refused this session speaks version 1; run the netns-exec of the same tether");
    co_return;
  }
  link->pid = valueOf(helloWords, "pid");
  std::vector<std::uint16_t> ports = config.inboundPorts;
  for (const auto& word : helloWords) {
    if (word.rfind("forward=", 0) == 0) {
      const long port = std::strtol(word.c_str() + 8, nullptr, 10);
      if (port >= 1 && port <= 65535) ports.push_back(static_cast<std::uint16_t>(port));
    }
  }
  std::string search;
  for (const auto& domain : config.search) search += (search.empty() ? "" : ",") + domain;
  if (!link->control.is_open()) co_return;
  sendMessage(control, "config search=" + search + " ndots=5");

  auto ready = co_await nextMessage(link->control, config.setupTimeout);
  if (ready && !link->control.is_open()) {
    for (const int fd : ready->fds) ::close(fd);  // the session stopped meanwhile: nothing to serve
    co_return;
  }
  if (!ready || ready->ended) {
    spdlog::warn(
        "event=netns_setup_failed pid={} reason=\"{}\"", link->pid,
        ready ? "the wrapper ended before its namespace was ready" : "no answer within setupTimeout");
    co_return;
  }
  const auto readyWords = words(ready->text);
  if (readyWords.empty() || readyWords[0] != "ready" || ready->fds.size() != 3) {
    for (const int fd : ready->fds) ::close(fd);
    spdlog::warn("event=netns_setup_failed pid={} reason=\"{}\"", link->pid, support::logText(ready->text));
    co_return;
  }
  std::string error;
  link->transparent = std::make_shared<tunnelclient::TransparentProxy>(self->tunnel_, config.proxy);
  link->dns = std::make_unique<tunnelclient::DnsForwarder>(*self->tunnel_, config.proxy);
  const bool adopted = link->transparent->adopt(ready->fds[0], error);
  if (!adopted) {
    ::close(ready->fds[1]);
    ::close(ready->fds[2]);
  }
  if (!adopted || !link->dns->adopt(ready->fds[1], ready->fds[2], error)) {
    spdlog::warn("event=netns_setup_failed pid={} reason=\"{}\"", link->pid, error);
    co_return;
  }
  const auto executor = self->tunnel_->executor();
  tunnel::spawnLogged(executor, link->transparent->serve(), "netns transparent proxy");
  tunnel::spawnLogged(executor, link->dns->serveUdp(), "netns dns udp");
  tunnel::spawnLogged(executor, link->dns->serveTcp(), "netns dns tcp");

  for (const auto port : ports) {
    auto acceptor = std::make_unique<tcp::acceptor>(executor);
    if (!tunnelclient::bindLoopback(*acceptor, port, error)) {
      spdlog::warn("event=netns_port_not_carried pid={} port={} reason=\"{}\"", link->pid, port, error);
      continue;
    }
    auto& listening = *acceptor;
    link->inbound.push_back(std::move(acceptor));
    const tunnel::OnAccepted onAccepted = [link, port, executor](tcp::socket client) {
      tunnel::spawnLogged(executor, carryIn(link, port, std::move(client)), "netns carry-in");
    };
    tunnel::spawnLogged(executor, tunnel::acceptLoop(listening, "netns port", onAccepted), "netns port");
  }
  spdlog::info("event=netns_attached pid={} ports={}", link->pid, ports.size());

  for (;;) {
    auto [ec] = co_await link->control.async_wait(asio::posix::descriptor_base::wait_read, kAwait);
    if (ec || !link->control.is_open()) break;
    auto message = receiveMessage(control, /*nonBlocking=*/true);
    if (message.error == EAGAIN) continue;
    if (message.ended || message.error != 0) break;
    const auto got = words(message.text);
    if (got.size() >= 3 && got[0] == "dialed") {
      const auto seq = std::strtoull(got[1].c_str(), nullptr, 10);
      const auto waiting = link->pending.find(seq);
      if (waiting != link->pending.end() && got[2] == "ok" && message.fds.size() == 1) {
        waiting->second->fd = message.fds[0];
        message.fds.clear();
      }
      if (waiting != link->pending.end()) {
        waiting->second->answered = true;
        waiting->second->wake.cancel();
      }
    } else if (!got.empty() && got[0] == "exited") {
      spdlog::info("event=netns_command_exited pid={} {}", link->pid, support::logText(wordAt(got, 1)));
    }
    for (const int fd : message.fds) ::close(fd);
  }
  spdlog::info("event=netns_detached pid={}", link->pid);
}

asio::awaitable<int> NamespaceHost::dialInside(std::shared_ptr<Link> link, std::uint16_t port,
                                               bool& answered) {
  const auto seq = link->nextSeq++;
  Link::Pending waiting(link->control.get_executor());
  link->pending[seq] = &waiting;
  if (sendMessage(link->control.native_handle(),
                  "dial " + std::to_string(port) + " " + std::to_string(seq))) {
    waiting.wake.expires_after(link->dialTimeout);
    co_await waiting.wake.async_wait(kAwait);
  }
  link->pending.erase(seq);
  answered = waiting.answered;
  co_return waiting.fd;
}

asio::awaitable<bool> NamespaceHost::listeningInside(std::uint16_t port) {
  auto self = shared_from_this();
  const std::vector<std::shared_ptr<Link>> links(links_.begin(), links_.end());
  for (const auto& link : links) {
    if (!link->transparent) continue;  // not attached yet: its program has not even started
    bool answered = false;
    const int fd = co_await dialInside(link, port, answered);
    if (fd >= 0) {
      ::close(fd);
      co_return true;
    }
  }
  co_return false;
}

asio::awaitable<void> NamespaceHost::carryIn(std::shared_ptr<Link> link, std::uint16_t port,
                                             tcp::socket client) {
  bool answered = false;
  const int fd = co_await dialInside(link, port, answered);
  if (fd < 0) {
    spdlog::info(
        "event=netns_carry_in_failed port={} reason=\"{}\"", port,
        answered ? "nothing listens on that port inside the namespace" : "no answer from the wrapper");
    boost::system::error_code ec;
    client.set_option(asio::socket_base::linger(true, 0), ec);
    client.close(ec);
    co_return;
  }
  int domain = AF_INET;
  socklen_t size = sizeof(domain);
  ::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &size);
  tcp::socket inside(client.get_executor());
  boost::system::error_code ec;
  if (domain == AF_INET6) {
    inside.assign(tcp::v6(), fd, ec);
  } else {
    inside.assign(tcp::v4(), fd, ec);
  }
  if (ec) {
    ::close(fd);
    co_return;
  }
  co_await tunnelclient::splice(std::move(client), std::move(inside));
}

}  // namespace tether::netns
