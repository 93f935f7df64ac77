// PrettyJson.hpp - indented JSON for `--pretty` output (Boost 1.81's serializer has no indentation).
#pragma once

#include <boost/json/value.hpp>

#include <string>

namespace tether::rpc {

std::string prettyJson(const boost::json::value& value);

}  // namespace tether::rpc
