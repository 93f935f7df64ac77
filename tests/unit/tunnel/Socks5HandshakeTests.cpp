// Socks5HandshakeTests.cpp - the SOCKS5 handshake sans-io: methods, RFC 1929 credentials, requests in any
// split, refusals with the right reply codes; and the proxies' credential checks.
#include <catch2/catch.hpp>

#include "server/tunnel/ProxyAuth.hpp"
#include "server/tunnel/Socks5Handshake.hpp"

using namespace tether::tunnelclient;

namespace {
std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out += static_cast<char>(v);
  return out;
}
const ProxyAuth& secret() {
  static const ProxyAuth auth(ProxyCredentials{"tether", "pw"});
  return auth;
}
std::string credentials(const std::string& user, const std::string& password) {
  return bytes({1, static_cast<int>(user.size())}) + user + bytes({static_cast<int>(password.size())}) +
         password;
}
std::string connectTo(const std::string& host, int port) {
  return bytes({5, 1, 0, 3, static_cast<int>(host.size())}) + host + bytes({port >> 8, port & 0xff});
}
}  // namespace

TEST_CASE("with credentials: username/password is chosen, checked, then CONNECT is read", "[tunnel][socks]") {
  Socks5Handshake handshake(secret());
  auto greeting = handshake.feed(bytes({5, 2, 0, 2}));
  CHECK(greeting.next == Socks5Handshake::Next::NeedMore);
  CHECK(greeting.reply == bytes({5, 2}));
  auto checked = handshake.feed(credentials("tether", "pw"));
  CHECK(checked.reply == bytes({1, 0}));
  auto request = handshake.feed(connectTo("orders.shop", 8080) + "early");
  CHECK(request.next == Socks5Handshake::Next::Connect);
  CHECK(handshake.host() == "orders.shop");
  CHECK(handshake.port() == 8080);
  CHECK(handshake.early() == "early");
}

TEST_CASE("everything in one write, or one byte at a time, gives the same handshake", "[tunnel][socks]") {
  const std::string all =
      bytes({5, 1, 2}) + credentials("tether", "pw") + bytes({5, 1, 0, 1, 10, 0, 0, 7, 0, 80});
  Socks5Handshake whole(secret());
  auto step = whole.feed(all);
  CHECK(step.next == Socks5Handshake::Next::Connect);
  CHECK(step.reply == bytes({5, 2, 1, 0}));
  CHECK(whole.host() == "10.0.0.7");
  Socks5Handshake bytewise(secret());
  std::string replies;
  Socks5Handshake::Step last;
  for (char c : all) {
    last = bytewise.feed(std::string(1, c));
    replies += last.reply;
  }
  CHECK(last.next == Socks5Handshake::Next::Connect);
  CHECK(replies == step.reply);
  CHECK(bytewise.port() == 80);
}

TEST_CASE("a client without the session's credentials is refused", "[tunnel][socks]") {
  Socks5Handshake noMethod(secret());
  auto refused = noMethod.feed(bytes({5, 1, 0}));
  CHECK(refused.next == Socks5Handshake::Next::Close);
  CHECK(refused.reply == bytes({5, 0xff}));
  CHECK(refused.authFailed);
  // A refused handshake stays refused, whatever the client sends next.
  CHECK(noMethod.feed(bytes({5, 1, 2}) + credentials("tether", "pw")).next == Socks5Handshake::Next::Close);
  Socks5Handshake wrong(secret());
  wrong.feed(bytes({5, 1, 2}));
  auto failed = wrong.feed(credentials("tether", "px"));
  CHECK(failed.next == Socks5Handshake::Next::Close);
  CHECK(failed.reply == bytes({1, 1}));
  CHECK(failed.authFailed);
}

TEST_CASE("without credentials required, no authentication is chosen", "[tunnel][socks]") {
  const auto open = ProxyAuth::none();
  Socks5Handshake handshake(open);
  CHECK(handshake.feed(bytes({5, 1, 0})).reply == bytes({5, 0}));
  CHECK(
      handshake.feed(bytes({5, 1, 0, 4, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0xbb})).next ==
      Socks5Handshake::Next::Connect);
  CHECK(handshake.host() == "fd00:0:0:0:0:0:0:1");
  CHECK(handshake.port() == 443);
}

TEST_CASE("requests that are not a CONNECT are answered with their reply code", "[tunnel][socks]") {
  const auto open = ProxyAuth::none();
  Socks5Handshake bind(open);
  bind.feed(bytes({5, 1, 0}));
  auto step = bind.feed(bytes({5, 2, 0, 1, 1, 2, 3, 4, 0, 80}));
  CHECK(step.next == Socks5Handshake::Next::Close);
  CHECK(step.reply == Socks5Handshake::connectReply(0x07));
  Socks5Handshake badType(open);
  badType.feed(bytes({5, 1, 0}));
  CHECK(badType.feed(bytes({5, 1, 0, 9, 0})).reply == Socks5Handshake::connectReply(0x08));
  Socks5Handshake socks6(open);
  CHECK(socks6.feed(bytes({6, 1, 0, 80})).next == Socks5Handshake::Next::Close);
  Socks5Handshake socks4bind(open);  // SOCKS4 BIND: only CONNECT is tunnelled
  CHECK(socks4bind.feed(bytes({4, 2, 0, 80, 10, 0, 0, 1, 0})).next == Socks5Handshake::Next::Close);
}

TEST_CASE("proxy credentials: Basic header and RFC 1929, case of the scheme aside, nothing else",
          "[tunnel][socks]") {
  const ProxyAuth auth(ProxyCredentials{"tether", "secret"});
  CHECK(auth.acceptsProxyAuthorization("Basic dGV0aGVyOnNlY3JldA=="));
  CHECK(auth.acceptsProxyAuthorization("basic  dGV0aGVyOnNlY3JldA=="));
  CHECK_FALSE(auth.acceptsProxyAuthorization("Basic dGV0aGVyOnNlY3JldA"));
  CHECK_FALSE(auth.acceptsProxyAuthorization("Bearer dGV0aGVyOnNlY3JldA=="));
  CHECK_FALSE(auth.acceptsProxyAuthorization(""));
  CHECK(auth.acceptsUserPassword("tether", "secret"));
  CHECK_FALSE(auth.acceptsUserPassword("tether", "secreT"));
  CHECK_FALSE(auth.acceptsUserPassword("other", "secret"));
  const auto generated = ProxyCredentials::generate();
  CHECK(generated.password.size() == 32u);
  CHECK(generated.password != ProxyCredentials::generate().password);
}

TEST_CASE("SOCKS4 and 4a: one request, the user id as user:password", "[tunnel][socks]") {
  const ProxyAuth auth(ProxyCredentials{"tether", "s3cret"});
  const auto request = [](std::string userid, std::string host) {
    std::string bytes{'\x04', '\x01', '\x1f', '\x90'};  // CONNECT port 8080
    bytes += host.empty() ? std::string("\x0a\x00\x00\x05", 4) : std::string("\x00\x00\x00\x01", 4);
    bytes += userid + '\0';
    if (!host.empty()) bytes += host + '\0';
    return bytes;
  };
  {
    Socks5Handshake handshake(auth);
    const auto whole = request("tether:s3cret", "orders.shop") + "early";
    // Byte by byte: nothing is decided before the request is complete.
    Socks5Handshake::Step step;
    for (std::size_t i = 0; i + 6 < whole.size(); ++i) {
      step = handshake.feed(whole.substr(i, 1));
      REQUIRE(step.next == Socks5Handshake::Next::NeedMore);
    }
    step = handshake.feed(whole.substr(whole.size() - 6));
    CHECK(step.next == Socks5Handshake::Next::Connect);
    CHECK(handshake.version() == 4);
    CHECK(handshake.host() == "orders.shop");
    CHECK(handshake.port() == 8080);
    CHECK(handshake.early() == "early");
    CHECK(handshake.answer(0) == std::string("\x00\x5a\x00\x00\x00\x00\x00\x00", 8));
    CHECK(handshake.answer(5) == std::string("\x00\x5b\x00\x00\x00\x00\x00\x00", 8));
  }
  {
    Socks5Handshake handshake(auth);
    const auto step = handshake.feed(request("tether:s3cret", ""));
    CHECK(step.next == Socks5Handshake::Next::Connect);
    CHECK(handshake.host() == "10.0.0.5");  // plain SOCKS4: an IPv4 address
  }
  for (const std::string userid : {"tether", "tether:wrong", "", "s3cret"}) {
    Socks5Handshake handshake(auth);
    const auto step = handshake.feed(request(userid, "orders"));
    CHECK(step.next == Socks5Handshake::Next::Close);
    CHECK(step.authFailed);
    CHECK(step.reply == std::string("\x00\x5b\x00\x00\x00\x00\x00\x00", 8));
  }
  Socks5Handshake endless(auth);
  CHECK(endless.feed(std::string("\x04\x01\x00\x50\x00\x00\x00\x01", 8) + std::string(300, 'u')).next ==
        Socks5Handshake::Next::Close);
}
