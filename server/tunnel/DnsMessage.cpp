// DnsMessage.cpp - SERVFAIL construction (RFC 1035 §4.1.1 header bits).
#include "server/tunnel/DnsMessage.hpp"

#include <arpa/inet.h>

namespace tether::tunnelclient {

std::string servfailFor(std::string_view query) {
  if (query.size() < kDnsHeaderSize) return {};
  std::string reply(query);
  reply[2] = static_cast<char>(static_cast<unsigned char>(reply[2]) | 0x80u);  // QR: a response
  reply[3] =
      static_cast<char>((static_cast<unsigned char>(reply[3]) & 0x70u) | 0x80u | 0x02u);  // RA, RCODE=2
  return reply;
}

std::string dnsQuery(std::string_view name, std::uint16_t type, std::uint16_t id) {
  while (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return {};
  std::string query;
  query += static_cast<char>(id >> 8);
  query += static_cast<char>(id & 0xFF);
  query += std::string("\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 10);  // RD; one question
  std::size_t at = 0;
  while (at <= name.size()) {
    const auto dot = name.find('.', at);
    const auto label = name.substr(at, dot == std::string_view::npos ? std::string_view::npos : dot - at);
    if (label.empty() || label.size() > 63) return {};
    query += static_cast<char>(label.size());
    query += label;
    if (dot == std::string_view::npos) break;
    at = dot + 1;
  }
  query += '\0';
  query += static_cast<char>(type >> 8);
  query += static_cast<char>(type & 0xFF);
  query += std::string("\x00\x01", 2);  // class IN
  return query;
}

namespace {

// Skips a (possibly compressed) name at `at`; false when it runs off the message.
bool skipName(std::string_view message, std::size_t& at) {
  for (int labels = 0; labels < 128; ++labels) {
    if (at >= message.size()) return false;
    const auto length = static_cast<unsigned char>(message[at]);
    if ((length & 0xC0) == 0xC0) {
      at += 2;
      return at <= message.size();
    }
    if ((length & 0xC0) != 0) return false;
    at += 1 + length;
    if (length == 0) return at <= message.size();
  }
  return false;
}

std::uint16_t read16(std::string_view message, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<unsigned char>(message[at]) << 8) |
                                    static_cast<unsigned char>(message[at + 1]));
}

}  // namespace

DnsAnswer parseDnsAnswer(std::string_view reply) {
  DnsAnswer answer;
  if (reply.size() < kDnsHeaderSize || (static_cast<unsigned char>(reply[2]) & 0x80) == 0) return answer;
  const int rcode = static_cast<unsigned char>(reply[3]) & 0x0F;
  const auto questions = read16(reply, 4);
  const auto answers = read16(reply, 6);
  std::size_t at = kDnsHeaderSize;
  for (unsigned i = 0; i < questions; ++i) {
    if (!skipName(reply, at) || at + 4 > reply.size()) return answer;
    at += 4;
  }
  for (unsigned i = 0; i < answers; ++i) {
    if (!skipName(reply, at) || at + 10 > reply.size()) return answer;
    const auto type = read16(reply, at);
    const auto length = read16(reply, at + 8);
    at += 10;
    if (at + length > reply.size()) return answer;
    char text[INET6_ADDRSTRLEN] = {};
    if (type == 1 && length == 4) {
      ::inet_ntop(AF_INET, reply.data() + at, text, sizeof(text));
      answer.addresses.emplace_back(text);
    } else if (type == 28 && length == 16) {
      ::inet_ntop(AF_INET6, reply.data() + at, text, sizeof(text));
      answer.addresses.emplace_back(text);
    }
    at += length;
  }
  answer.rcode = rcode;
  return answer;
}

std::optional<DnsQuestion> parseDnsQuestion(std::string_view query) {
  if (query.size() < kDnsHeaderSize) return std::nullopt;
  const auto flags = static_cast<unsigned char>(query[2]);
  if ((flags & 0x80) != 0 || (flags & 0x78) != 0) return std::nullopt;  // a response, or not QUERY
  if (read16(query, 4) == 0) return std::nullopt;
  DnsQuestion question;
  std::size_t at = kDnsHeaderSize;
  for (;;) {
    if (at >= query.size()) return std::nullopt;
    const auto length = static_cast<unsigned char>(query[at]);
    if (length == 0) break;
    if ((length & 0xC0) != 0 || at + 1 + length > query.size()) return std::nullopt;
    if (!question.name.empty()) question.name += '.';
    question.name.append(query.substr(at + 1, length));
    if (question.name.size() > 253) return std::nullopt;
    at += 1 + length;
  }
  at += 1;
  if (at + 4 > query.size()) return std::nullopt;
  question.type = read16(query, at);
  question.klass = read16(query, at + 2);
  question.end = at + 4;
  return question;
}

std::string dnsResponse(std::string_view query, const DnsQuestion& question, int rcode,
                        const std::vector<std::string>& ipv4, std::uint32_t ttl) {
  std::string records;
  std::uint16_t count = 0;
  for (const auto& address : ipv4) {
    unsigned char bytes[4];
    if (question.type != 1 || ::inet_pton(AF_INET, address.c_str(), bytes) != 1) continue;
    records += std::string("\xC0\x0C\x00\x01\x00\x01", 6);  // the question's name; A; IN
    for (int shift = 24; shift >= 0; shift -= 8) records += static_cast<char>((ttl >> shift) & 0xFF);
    records += std::string("\x00\x04", 2);
    records.append(reinterpret_cast<const char*>(bytes), 4);
    ++count;
  }
  std::string reply(query.substr(0, 2));
  reply += static_cast<char>(0x80 | (static_cast<unsigned char>(query[2]) & 0x01));  // QR; RD echoed
  reply += static_cast<char>(0x80 | (rcode & 0x0F));                                 // RA; RCODE
  reply += std::string("\x00\x01", 2);
  reply += static_cast<char>(count >> 8);
  reply += static_cast<char>(count & 0xFF);
  reply += std::string(4, '\0');
  reply += query.substr(kDnsHeaderSize, question.end - kDnsHeaderSize);
  return reply + records;
}

}  // namespace tether::tunnelclient
