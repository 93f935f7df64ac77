// Resources.cpp - URL building.
#include "server/kube/Resources.hpp"

#include <cctype>

namespace tether::kube {

std::string urlEscape(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string resourcePath(const ResourceType& type, const std::string& namespaceName, const std::string& name,
                         const std::string& subresource) {
  std::string path = type.group.empty() ? "/api/" + type.version : "/apis/" + type.group + "/" + type.version;
  if (type.namespaced && !namespaceName.empty()) path += "/namespaces/" + urlEscape(namespaceName);
  path += "/" + type.resource;
  if (!name.empty()) path += "/" + urlEscape(name);
  if (!subresource.empty()) path += "/" + subresource;
  return path;
}

}  // namespace tether::kube
