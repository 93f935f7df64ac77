// Http2Io.hpp - one nghttp2 session on one socket, driven by Asio on the router's thread: a read loop feeds
// nghttp2_session_mem_recv, a write loop drains nghttp2_session_mem_send. Anything that gives a session
// something to send (a submitted frame, resumed data, a consumed window) calls wantWrite(), which wakes the
// write loop; the loops end when nghttp2 wants neither to read nor to write, or the socket fails.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <string>
#include <vector>

struct nghttp2_session;

namespace tether::shadow::router {

class Http2Io {
 public:
  // Takes ownership of `session` (deleted with this object).
  Http2Io(boost::asio::ip::tcp::socket socket, nghttp2_session* session, std::vector<char>& scratch);
  ~Http2Io();
  Http2Io(const Http2Io&) = delete;
  Http2Io& operator=(const Http2Io&) = delete;

  nghttp2_session* session() const { return session_; }
  boost::asio::ip::tcp::socket& socket() { return socket_; }

  // Feeds `bytes` already read (the sniffed preface) before reading the socket.
  boost::asio::awaitable<void> readLoop(std::string already);
  boost::asio::awaitable<void> writeLoop();
  void wantWrite();
  // Ends both loops (the socket closes); idempotent.
  void close();
  bool closed() const { return closed_; }
  // Why the session ended, for logs: empty when it ended cleanly.
  const std::string& failure() const { return failure_; }

 private:
  bool feed(const char* data, std::size_t size);

  boost::asio::ip::tcp::socket socket_;
  nghttp2_session* session_;
  std::vector<char>& scratch_;
  boost::asio::steady_timer wake_;
  bool kicked_ = false;
  bool closed_ = false;
  std::string failure_;
};

}  // namespace tether::shadow::router
