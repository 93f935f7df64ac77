// Resolv.cpp - resolv.conf and --dns-server parsing.
#include "shadow/Resolv.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

namespace tether::shadow {

std::string nameserverFromText(const std::string& text) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string keyword;
    std::string value;
    if (words >> keyword >> value && keyword == "nameserver") return value;
  }
  return "";
}

std::string nameserverFromResolvConf(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return nameserverFromText(text.str());
}

std::optional<boost::asio::ip::udp::endpoint> parseDnsServer(const std::string& text) {
  std::string host = text;
  unsigned port = 53;
  auto splitPort = [&](std::size_t colon) {
    const std::string digits = text.substr(colon + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    return ec == std::errc() && end == digits.data() + digits.size() && port > 0 && port < 65536;
  };
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':' || !splitPort(close + 1)) return std::nullopt;
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    const auto colon = text.find(':');
    host = text.substr(0, colon);
    if (!splitPort(colon)) return std::nullopt;
  }
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(host, ec);
  if (ec) return std::nullopt;
  return boost::asio::ip::udp::endpoint(address, static_cast<unsigned short>(port));
}

}  // namespace tether::shadow
