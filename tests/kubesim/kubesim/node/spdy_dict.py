"""The SPDY/3 header-compression dictionary (SPDY draft 3, section 2.6.10.1).

Both peers prime zlib with these bytes; header blocks cannot be decoded without the exact
dictionary. The spec defines it as a list of length-prefixed common header tokens followed by
a run of common value fragments; it is built here from those two parts.
"""

import struct

_TOKENS = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language "
    "accept-ranges age allow authorization cache-control connection content-base content-encoding "
    "content-language content-length content-location content-md5 content-range content-type date "
    "etag expect expires from host if-match if-modified-since if-none-match if-range "
    "if-unmodified-since last-modified location max-forwards pragma proxy-authenticate "
    "proxy-authorization range referer retry-after server te trailer transfer-encoding upgrade "
    "user-agent vary via warning www-authenticate method get status 200|OK version HTTP/1.1 url "
    "public set-cookie keep-alive origin"
)

_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request"
    "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented"
    "503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,"
    "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age="
    "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)


def _build() -> bytes:
    out = b""
    for token in _TOKENS.split(" "):
        # "|" stands for a space inside a token ("200 OK").
        word = token.replace("|", " ").encode()
        out += struct.pack("!I", len(word)) + word
    return out + _TAIL.encode()


DICTIONARY = _build()
