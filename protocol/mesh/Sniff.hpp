// Sniff.hpp - what a connection on an undeclared port speaks, from its first bytes (sans-io). The
// router reads for a short bound and asks after each read; whatever it sniffed is replayed to the engine
// or the upstream that takes the connection, so nothing the client sent is lost.
#pragma once

#include <cstddef>
#include <string_view>

namespace tether::mesh {

enum class Sniffed {
  Undecided,  // read more (or, at EOF or the bound, treat it as Raw)
  Tls,        // a TLS record header (handshake, version 3.x): the whole connection goes to stable
  H2c,        // the HTTP/2 connection preface, whole
  Http1,      // a complete HTTP/1.x request line
  Raw,        // anything else: spliced to stable
};

// The longest request line the classifier waits for before calling it HTTP/1 anyway (the engine then
// refuses it with its own limit) or raw.
inline constexpr std::size_t kMaxSniffedLine = 16u * 1024u;

Sniffed classify(std::string_view bytes);

}  // namespace tether::mesh
