// SpdyHeaders.cpp - header blocks and their zlib streams.
#include "server/kube/spdy/SpdyHeaders.hpp"

#include <zlib.h>

#include <stdexcept>

#include "server/kube/spdy/SpdyFrames.hpp"

namespace tether::kube::spdy {

namespace {

// The draft lists these tokens one per line, each preceded by its length; "|" stands for a space
// inside a token ("200 OK") so that the list can be written on a few lines.
constexpr std::string_view kTokens =
    "options head post put delete trace accept accept-charset accept-encoding accept-language "
    "accept-ranges age allow authorization cache-control connection content-base content-encoding "
    "content-language content-length content-location content-md5 content-range content-type date "
    "etag expect expires from host if-match if-modified-since if-none-match if-range "
    "if-unmodified-since last-modified location max-forwards pragma proxy-authenticate "
    "proxy-authorization range referer retry-after server te trailer transfer-encoding upgrade "
    "user-agent vary via warning www-authenticate method get status 200|OK version HTTP/1.1 url "
    "public set-cookie keep-alive origin";

constexpr std::string_view kValueFragments =
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";

std::string buildDictionary() {
  std::string out;
  std::size_t start = 0;
  while (start < kTokens.size()) {
    auto end = kTokens.find(' ', start);
    if (end == std::string_view::npos) end = kTokens.size();
    std::string token(kTokens.substr(start, end - start));
    for (auto& c : token) {
      if (c == '|') c = ' ';
    }
    appendU32(out, static_cast<std::uint32_t>(token.size()));
    out += token;
    start = end + 1;
  }
  out += kValueFragments;
  return out;
}

const Bytef* bytes(std::string_view text) {
  return reinterpret_cast<const Bytef*>(text.data());
}

}  // namespace

const std::string& headerDictionary() {
  static const std::string dictionary = buildDictionary();
  return dictionary;
}

std::string encodeHeaderBlock(const HeaderList& headers) {
  std::string out;
  appendU32(out, static_cast<std::uint32_t>(headers.size()));
  for (const auto& [name, value] : headers) {
    appendU32(out, static_cast<std::uint32_t>(name.size()));
    out += name;
    appendU32(out, static_cast<std::uint32_t>(value.size()));
    out += value;
  }
  return out;
}

std::optional<HeaderList> decodeHeaderBlock(std::string_view block, std::string& error) {
  auto take = [&](std::string_view& rest, std::string& into) {
    if (rest.size() < 4) return false;
    const std::uint32_t length = readU32(rest);
    rest.remove_prefix(4);
    if (length > rest.size()) return false;
    into.assign(rest.substr(0, length));
    rest.remove_prefix(length);
    return true;
  };
  if (block.size() < 4) {
    error = "a SPDY header block shorter than its count";
    return std::nullopt;
  }
  const std::uint32_t count = readU32(block);
  block.remove_prefix(4);
  // Every pair takes at least eight bytes, so a count beyond that cannot be honest.
  if (count > block.size() / 8) {
    error = "a SPDY header block claims " + std::to_string(count) + " headers in " +
            std::to_string(block.size()) + " bytes";
    return std::nullopt;
  }
  HeaderList headers;
  headers.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    std::string name;
    std::string value;
    if (!take(block, name) || !take(block, value)) {
      error = "a SPDY header block is cut short in header " + std::to_string(i + 1);
      return std::nullopt;
    }
    headers.emplace_back(std::move(name), std::move(value));
  }
  return headers;
}

struct HeaderCompressor::State {
  z_stream zs{};
};

HeaderCompressor::HeaderCompressor() : state_(std::make_unique<State>()) {
  auto& zs = state_->zs;
  if (deflateInit(&zs, Z_DEFAULT_COMPRESSION) != Z_OK) throw std::runtime_error("zlib: deflateInit failed");
  const auto& dictionary = headerDictionary();
  deflateSetDictionary(&zs, bytes(dictionary), static_cast<uInt>(dictionary.size()));
}

HeaderCompressor::~HeaderCompressor() {
  deflateEnd(&state_->zs);
}

std::string HeaderCompressor::compress(const HeaderList& headers) {
  const std::string raw = encodeHeaderBlock(headers);
  auto& zs = state_->zs;
  zs.next_in = const_cast<Bytef*>(bytes(raw));
  zs.avail_in = static_cast<uInt>(raw.size());
  std::string out;
  char chunk[1024];
  do {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    deflate(&zs, Z_SYNC_FLUSH);
    out.append(chunk, sizeof chunk - zs.avail_out);
  } while (zs.avail_out == 0);
  return out;
}

struct HeaderDecompressor::State {
  z_stream zs{};
};

HeaderDecompressor::HeaderDecompressor(std::size_t maxBytes)
    : state_(std::make_unique<State>()), maxBytes_(maxBytes) {
  if (inflateInit(&state_->zs) != Z_OK) throw std::runtime_error("zlib: inflateInit failed");
}

HeaderDecompressor::~HeaderDecompressor() {
  inflateEnd(&state_->zs);
}

std::optional<HeaderList> HeaderDecompressor::decompress(std::string_view block, std::string& error) {
  auto& zs = state_->zs;
  zs.next_in = const_cast<Bytef*>(bytes(block));
  zs.avail_in = static_cast<uInt>(block.size());
  std::string out;
  char chunk[1024];
  while (zs.avail_in > 0) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    int result = inflate(&zs, Z_SYNC_FLUSH);
    if (result == Z_NEED_DICT) {
      const auto& dictionary = headerDictionary();
      if (inflateSetDictionary(&zs, bytes(dictionary), static_cast<uInt>(dictionary.size())) != Z_OK) {
        error = "a SPDY header block asks for a dictionary other than SPDY/3's";
        return std::nullopt;
      }
      result = inflate(&zs, Z_SYNC_FLUSH);
    }
    out.append(chunk, sizeof chunk - zs.avail_out);
    if (out.size() > maxBytes_) {
      error = "a SPDY header block inflates beyond " + std::to_string(maxBytes_) + " bytes";
      return std::nullopt;
    }
    if (result == Z_BUF_ERROR && zs.avail_out != 0) break;  // no progress possible: input is incomplete
    if (result != Z_OK && result != Z_BUF_ERROR) {
      error = std::string("a SPDY header block is not valid zlib data") +
              (zs.msg ? std::string(": ") + zs.msg : "");
      return std::nullopt;
    }
  }
  // Output may still be pending inside zlib when the input ran out exactly with a full chunk.
  for (;;) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    const int result = inflate(&zs, Z_SYNC_FLUSH);
    out.append(chunk, sizeof chunk - zs.avail_out);
    if (out.size() > maxBytes_) {
      error = "a SPDY header block inflates beyond " + std::to_string(maxBytes_) + " bytes";
      return std::nullopt;
    }
    if (zs.avail_out != 0 || (result != Z_OK)) break;
  }
  return decodeHeaderBlock(out, error);
}

}  // namespace tether::kube::spdy
