// ShadowImage.cpp - the shape of an image reference, as the distribution spec writes it.
#include "protocol/tunnel/ShadowImage.hpp"

#include <algorithm>
#include <cctype>

namespace tether::tunnel {

namespace {

bool lowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// A path component: lower-case alphanumerics, separated by '.', '_', '__' or runs of '-'.
bool pathComponent(std::string_view part) {
  if (part.empty() || !lowerAlnum(part.front()) || !lowerAlnum(part.back())) return false;
  return std::all_of(part.begin(), part.end(),
                     [](char c) { return lowerAlnum(c) || c == '.' || c == '_' || c == '-'; });
}

// A registry: a host name (letters, digits, '.', '-') with an optional :port, or localhost.
bool registryHost(std::string_view host) {
  const auto colon = host.find(':');
  const auto name = host.substr(0, colon);
  if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-';
      })) {
    return false;
  }
  if (colon == std::string_view::npos) return true;
  const auto port = host.substr(colon + 1);
  return !port.empty() && port.size() <= 5 &&
         std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::optional<std::string> imageReferenceProblem(std::string_view image) {
  const std::string expected =
      "expected [registry/]name[:tag] or [registry/]name@sha256:<64 hex digits>, e.g. " +
      defaultShadowImage();
  if (image.empty() || image.size() > 1024) return "an image reference must not be empty; " + expected;
  std::string_view rest = image;
  if (const auto at = rest.find('@'); at != std::string_view::npos) {
    const auto digest = rest.substr(at + 1);
    const bool ok = digest.size() == 7 + 64 && digest.substr(0, 7) == "sha256:" &&
                    std::all_of(digest.begin() + 7, digest.end(),
                                [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
    if (!ok) return "\"" + std::string(digest) + "\" is not a sha256 digest; " + expected;
    rest = rest.substr(0, at);
  }
  const auto lastSlash = rest.rfind('/');
  if (const auto colon = rest.rfind(':');
      colon != std::string_view::npos && (lastSlash == std::string_view::npos || colon > lastSlash)) {
    const auto tag = rest.substr(colon + 1);
    const bool ok = !tag.empty() && tag.size() <= 128 &&
                    (std::isalnum(static_cast<unsigned char>(tag.front())) || tag.front() == '_') &&
                    std::all_of(tag.begin(), tag.end(), [](char c) {
                      return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
                    });
    if (!ok) return "\"" + std::string(tag) + "\" is not an image tag; " + expected;
    rest = rest.substr(0, colon);
  }
  std::string_view path = rest;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    const auto first = rest.substr(0, slash);
    // The first component names a registry when it has a '.' or a ':' or is localhost (Docker's rule).
    if (first.find_first_of(".:") != std::string_view::npos || first == "localhost") {
      if (!registryHost(first)) return "\"" + std::string(first) + "\" is not a registry host; " + expected;
      path = rest.substr(slash + 1);
    }
  }
  while (true) {
    const auto slash = path.find('/');
    if (!pathComponent(path.substr(0, slash))) {
      return "\"" + std::string(image) + "\" is not an image reference; " + expected;
    }
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return std::nullopt;
}

}  // namespace tether::tunnel
