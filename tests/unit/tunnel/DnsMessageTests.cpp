// DnsMessageTests.cpp - the DNS wire format the preload shim's UDP DNS reads and writes: a program's
// question, the answer built from the cluster's addresses, and resolv.conf's nameservers.
#include <catch2/catch.hpp>

#include "server/tunnel/DnsMessage.hpp"
#include "server/tunnel/PreloadDns.hpp"

using namespace tether::tunnelclient;

TEST_CASE("a program's question is read, and its answer carries the cluster's addresses", "[tunnel][dns]") {
  const auto query = dnsQuery("Orders.shop.svc.cluster.local", 1, 0xBEEF);
  const auto question = parseDnsQuestion(query);
  REQUIRE(question);
  CHECK(question->name == "Orders.shop.svc.cluster.local");  // case as asked (0x20 resolvers compare it)
  CHECK(question->type == 1);
  CHECK(question->klass == 1);
  CHECK(question->end == query.size());

  const auto reply = dnsResponse(query, *question, 0, {"10.96.0.7", "fd00::1", "10.96.0.8"}, 5);
  CHECK(reply.substr(0, 2) == query.substr(0, 2));               // the id
  CHECK((static_cast<unsigned char>(reply[2]) & 0x81) == 0x81);  // QR, and RD echoed
  const auto answer = parseDnsAnswer(reply);
  CHECK(answer.rcode == 0);
  CHECK(answer.addresses == std::vector<std::string>{"10.96.0.7", "10.96.0.8"});        // IPv4 only, in order
  CHECK(reply.substr(12, question->end - 12) == query.substr(12, question->end - 12));  // question echoed
}

TEST_CASE("an AAAA question about a cluster name gets no records, a missing name NXDOMAIN", "[tunnel][dns]") {
  const auto aaaa = dnsQuery("orders", 28, 7);
  const auto question = parseDnsQuestion(aaaa);
  REQUIRE(question);
  const auto empty = parseDnsAnswer(dnsResponse(aaaa, *question, 0, {"10.96.0.7"}, 5));
  CHECK(empty.rcode == 0);
  CHECK(empty.addresses.empty());
  const auto missing = parseDnsAnswer(dnsResponse(aaaa, *question, 3, {}, 0));
  CHECK(missing.rcode == 3);
}

TEST_CASE("what is not a plain query is refused, not read past its end", "[tunnel][dns]") {
  const auto query = dnsQuery("orders.shop", 1, 1);
  CHECK_FALSE(parseDnsQuestion(query.substr(0, 11)));                // shorter than a header
  CHECK_FALSE(parseDnsQuestion(query.substr(0, query.size() - 1)));  // the class cut off
  auto response = query;
  response[2] = static_cast<char>(response[2] | 0x80);
  CHECK_FALSE(parseDnsQuestion(response));  // an answer, not a question
  auto noQuestion = query;
  noQuestion[5] = 0;
  CHECK_FALSE(parseDnsQuestion(noQuestion));
  auto compressed = query;
  compressed[12] = static_cast<char>(0xC0);
  CHECK_FALSE(parseDnsQuestion(compressed));
  auto overlong = query;
  overlong[12] = 60;  // a label running past the message
  CHECK_FALSE(parseDnsQuestion(overlong));
}

TEST_CASE("resolv.conf's IPv4 nameservers, in order, comments and IPv6 left out", "[tunnel][dns]") {
  const auto servers = ipv4Nameservers(
      "# generated\nsearch corp.example\nnameserver 10.0.0.2\nnameserver fd00::53\n"
      "nameserver 192.168.1.1 # home\n;nameserver 10.9.9.9\noptions ndots:2\nnameserver\n");
  CHECK(servers == std::vector<std::string>{"10.0.0.2", "192.168.1.1"});
  CHECK(ipv4Nameservers("").empty());
}
