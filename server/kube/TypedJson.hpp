// TypedJson.hpp - internal to server/kube: the JSON readers behind the typed views, shared by Typed.cpp and
// Objects.cpp. Never included from outside the module (it exposes Boost.JSON).
#pragma once

#include <boost/json/value.hpp>

#include <initializer_list>
#include <map>
#include <string>

#include "server/kube/ApiError.hpp"
#include "server/kube/Typed.hpp"

namespace tether::kube::detail {

// The string (or integer, as text) at `path`, or empty.
std::string text(const boost::json::value& object, std::initializer_list<const char*> path);
std::map<std::string, std::string> stringMap(const boost::json::value& object,
                                             std::initializer_list<const char*> path);
ServiceSummary toService(const boost::json::value& item);
const boost::json::array* items(const boost::json::value& list);
ApiError malformed(const std::string& path);

}  // namespace tether::kube::detail
