// PrettyJson.cpp - a small recursive printer; keys keep their insertion order.
#include "server/rpc/PrettyJson.hpp"

#include <boost/json/serialize.hpp>

namespace tether::rpc {

namespace {
void print(std::string& out, const boost::json::value& value, int depth) {
  const std::string indent(static_cast<std::size_t>(depth + 1) * 2, ' ');
  const std::string closing(static_cast<std::size_t>(depth) * 2, ' ');
  if (value.is_object() && !value.get_object().empty()) {
    out += "{\n";
    bool first = true;
    for (const auto& [key, item] : value.get_object()) {
      if (!first) out += ",\n";
      first = false;
      out += indent + boost::json::serialize(boost::json::string(key)) + ": ";
      print(out, item, depth + 1);
    }
    out += "\n" + closing + "}";
  } else if (value.is_array() && !value.get_array().empty()) {
    out += "[\n";
    bool first = true;
    for (const auto& item : value.get_array()) {
      if (!first) out += ",\n";
      first = false;
      out += indent;
      print(out, item, depth + 1);
    }
    out += "\n" + closing + "]";
  } else {
    out += boost::json::serialize(value);
  }
}
}  // namespace

std::string prettyJson(const boost::json::value& value) {
  std::string out;
  print(out, value, 0);
  return out;
}

}  // namespace tether::rpc
