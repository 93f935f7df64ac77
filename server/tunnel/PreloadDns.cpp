// PreloadDns.cpp - one coroutine per question: the cluster's answer, or the nameserver's unchanged.
#include "server/tunnel/PreloadDns.hpp"

#include <arpa/inet.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sstream>

#include "protocol/tunnel/asio/Spawn.hpp"
#include "server/tunnel/DnsForwarder.hpp"
#include "server/tunnel/DnsMessage.hpp"
#include "server/tunnel/OutboundPolicy.hpp"

namespace tether::tunnelclient {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using udp = asio::ip::udp;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxDatagram = 65535;
constexpr std::uint16_t kTypeA = 1, kTypeAaaa = 28, kClassIn = 1;
constexpr int kNoError = 0, kNxDomain = 3;

// "A 10.96.0.5 10.96.0.6\n" -> its addresses.
std::vector<std::string> addressesOf(const std::string& line) {
  std::istringstream words(line.substr(1));
  std::vector<std::string> addresses;
  for (std::string word; words >> word;) addresses.push_back(word);
  return addresses;
}

}  // namespace

std::vector<std::string> ipv4Nameservers(std::string_view resolvConf) {
  std::vector<std::string> servers;
  std::istringstream lines{std::string(resolvConf)};
  for (std::string line; std::getline(lines, line);) {
    line = line.substr(0, line.find_first_of("#;"));
    std::istringstream words(line);
    std::string keyword, address;
    words >> keyword >> address;
    in_addr parsed{};
    if (keyword == "nameserver" && ::inet_pton(AF_INET, address.c_str(), &parsed) == 1) {
      servers.push_back(address);
    }
  }
  return servers;
}

PreloadDns::PreloadDns(std::shared_ptr<PreloadService> service, std::shared_ptr<TunnelClient> tunnel,
                       PreloadDnsConfig config)
    : service_(std::move(service)),
      tunnel_(std::move(tunnel)),
      config_(std::move(config)),
      socket_(tunnel_->executor()) {}

bool PreloadDns::bind(std::string& error) {
  boost::system::error_code ec;
  socket_.open(udp::v4(), ec);
  if (!ec) socket_.bind(udp::endpoint(asio::ip::address_v4::loopback(), 0), ec);
  if (ec) error = "the preload shim's DNS port on 127.0.0.1: " + ec.message();
  return !ec;
}

std::uint16_t PreloadDns::port() const {
  return socket_.local_endpoint().port();
}

void PreloadDns::close() {
  boost::system::error_code ec;
  socket_.close(ec);
}

asio::awaitable<void> PreloadDns::serve() {
  auto self = shared_from_this();
  std::vector<char> datagram(kMaxDatagram);
  while (socket_.is_open()) {
    udp::endpoint from;
    auto [ec, n] = co_await socket_.async_receive_from(asio::buffer(datagram), from, kAwait);
    if (ec == asio::error::operation_aborted || !socket_.is_open()) co_return;
    // A flood of questions is dropped as a busy nameserver drops it: the programs ask again. A response
    // (QR set) is never answered, so two answering parties cannot bounce datagrams between them.
    if (ec || n < kDnsHeaderSize || inFlight_ >= config_.maxInFlight) continue;
    if ((static_cast<unsigned char>(datagram[2]) & 0x80) != 0) continue;
    tunnel::spawnLogged(tunnel_->executor(), answer(std::string(datagram.data(), n), from),
                        "preload dns query");
  }
}

asio::awaitable<void> PreloadDns::answer(std::string query, udp::endpoint from) {
  auto self = shared_from_this();
  struct Counted {
    std::size_t& count;
    explicit Counted(std::size_t& c) : count(c) { ++count; }
    ~Counted() { --count; }
  } counted{inFlight_};
  std::string reply;
  const auto question = parseDnsQuestion(query);
  if (!question) {
    reply = servfailFor(query);
  } else {
    const auto scope = nameScope(question->name, service_->config().search);
    const bool addressQuestion =
        question->klass == kClassIn && (question->type == kTypeA || question->type == kTypeAaaa);
    bool outside = scope == NameScope::Outside;
    if (!outside && addressQuestion) {
      asio::steady_timer deadline(tunnel_->executor(), config_.clusterTimeout);
      auto resolved = co_await (service_->resolve(question->name) || deadline.async_wait(kAwait));
      // (No class-type temporaries in conditional expressions here: GCC 12 miscompiles them in coroutines.)
      std::string line = "E\n";
      if (resolved.index() == 0) line = std::get<0>(resolved);
      if (line[0] == 'A') {
        reply = dnsResponse(query, *question, kNoError, addressesOf(line), config_.answerTtl);
      } else if (scope == NameScope::Cluster) {
        reply = servfailFor(query);
        if (line[0] == 'N') reply = dnsResponse(query, *question, kNxDomain, {}, 0);
      } else {
        outside = true;  // a maybe-name the cluster lacks (or cannot answer for): the system's nameserver
      }
    } else if (!outside) {
      // SRV, TXT ...: only a name that is surely the cluster's goes there, as it was asked.
      if (scope == NameScope::Cluster) reply = co_await relayDnsQuery(*tunnel_, query);
      outside = scope != NameScope::Cluster;
    }
    if (outside) reply = co_await askUpstream(query);
  }
  if (!reply.empty() && socket_.is_open()) co_await socket_.async_send_to(asio::buffer(reply), from, kAwait);
}

asio::awaitable<std::string> PreloadDns::askUpstream(std::string query) {
  // Each nameserver in resolv.conf's order, as the program's own failover would have gone: the shim sends
  // the questions for all of them here, so a first nameserver that is down must not fail every outside name.
  for (const auto& address : config_.upstream) {
    auto answer = co_await askOne(address, query);
    if (!answer.empty()) co_return answer;
  }
  co_return servfailFor(query);  // none answered: a server failure now, rather than a wait for nothing
}

asio::awaitable<std::string> PreloadDns::askOne(const std::string& address, const std::string& query) {
  boost::system::error_code ec;
  const auto server = asio::ip::make_address_v4(address, ec);
  if (ec) co_return std::string();
  udp::socket socket(tunnel_->executor());
  socket.open(udp::v4(), ec);
  if (!ec) socket.connect(udp::endpoint(server, 53), ec);
  if (ec) co_return std::string();
  if (auto [sent, n] = co_await socket.async_send(asio::buffer(query), kAwait); sent) co_return std::string();
  std::vector<char> buffer(kMaxDatagram);
  asio::steady_timer deadline(tunnel_->executor(), config_.upstreamTimeout);
  for (;;) {
    auto got = co_await (socket.async_receive(asio::buffer(buffer), kAwait) || deadline.async_wait(kAwait));
    if (got.index() == 1) co_return std::string();  // no answer in time: the next nameserver
    const auto [received, n] = std::get<0>(got);
    if (received) co_return std::string();  // refused: nothing at port 53 there
    if (n >= 2 && buffer[0] == query[0] && buffer[1] == query[1]) co_return std::string(buffer.data(), n);
  }
}

}  // namespace tether::tunnelclient
