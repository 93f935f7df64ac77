// AcceptLoop.hpp - the one accept loop of the tunnel binaries. An accept that fails because the process or
// the system is out of descriptors (EMFILE, ENFILE) or memory fails again at once while the connection waits
// in the backlog, so a loop that just retries spins a core. This one pauses instead, doubling the pause
// from `AcceptBackoff::first` up to `AcceptBackoff::max`, and logs the error once per pause.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <functional>
#include <string>

namespace tether::tunnel {

struct AcceptBackoff {
  std::chrono::milliseconds first{50};
  std::chrono::milliseconds max{1000};
};

using OnAccepted = std::function<void(boost::asio::ip::tcp::socket)>;

// Accepts until `acceptor` is closed (or its accept is cancelled), giving each socket to `accepted`.
//
// Pass a named OnAccepted, never a lambda written inside the co_await expression: GCC 12 destroys the
// captures of such a temporary twice, and a shared_ptr captured there ends up freed while still in use
// (caught by ASan in the shadow's listener loop).
boost::asio::awaitable<void> acceptLoop(boost::asio::ip::tcp::acceptor& acceptor, std::string what,
                                        OnAccepted accepted, AcceptBackoff backoff = {});

}  // namespace tether::tunnel
