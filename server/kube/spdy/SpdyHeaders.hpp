// SpdyHeaders.hpp - SPDY/3 header blocks: `count:4 {length:4 name length:4 value}...`, compressed with
// one zlib stream per direction for the whole connection, primed with the SPDY/3 dictionary and
// flushed (Z_SYNC_FLUSH) after every block. So the compressor and the decompressor are connection
// state: each block depends on every block before it in the same direction.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tether::kube::spdy {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The dictionary of SPDY draft 3, §2.6.10.1: length-prefixed common header tokens followed by a run of
// common value fragments.
const std::string& headerDictionary();

class HeaderCompressor {
 public:
  HeaderCompressor();
  ~HeaderCompressor();
  HeaderCompressor(const HeaderCompressor&) = delete;
  HeaderCompressor& operator=(const HeaderCompressor&) = delete;

  // Names must already be lower case (SPDY/3 requires it).
  std::string compress(const HeaderList& headers);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

class HeaderDecompressor {
 public:
  // A block that inflates beyond `maxBytes` is refused (a small block can expand enormously).
  explicit HeaderDecompressor(std::size_t maxBytes = 64 * 1024);
  ~HeaderDecompressor();
  HeaderDecompressor(const HeaderDecompressor&) = delete;
  HeaderDecompressor& operator=(const HeaderDecompressor&) = delete;

  // The block's headers, or nullopt with `error` saying what was wrong. After an error the
  // connection's stream of blocks is broken; the caller must end the connection.
  std::optional<HeaderList> decompress(std::string_view block, std::string& error);

 private:
  struct State;
  std::unique_ptr<State> state_;
  std::size_t maxBytes_;
};

// The uncompressed form, exposed for tests.
std::string encodeHeaderBlock(const HeaderList& headers);
std::optional<HeaderList> decodeHeaderBlock(std::string_view block, std::string& error);

}  // namespace tether::kube::spdy
