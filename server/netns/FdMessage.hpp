// FdMessage.hpp - one message on a SOCK_SEQPACKET Unix socket, with descriptors attached (SCM_RIGHTS).
// The namespace wrapper and the backend talk this way: a line of words per message, and the sockets the
// wrapper made inside the debuggee's network namespace travel with the message that names them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tether::netns {

// At most this many descriptors ride on one message; a message carrying more is refused whole.
inline constexpr std::size_t kMaxMessageFds = 8;
// A control message is one short line; anything longer is a peer we do not understand.
inline constexpr std::size_t kMaxMessageBytes = 4096;

// Sends `text` with `fds` attached (the descriptors stay open here). False with errno set on failure.
bool sendMessage(int socket, std::string_view text, const std::vector<int>& fds = {});

struct Received {
  std::string text;
  std::vector<int> fds;  // owned by the caller now (close them)
  bool ended = false;    // the peer closed its end
  int error = 0;         // errno of a failed receive (EAGAIN when `nonBlocking` found nothing)
};

// Receives one message. Descriptors arrive close-on-exec. With `nonBlocking`, returns EAGAIN at once when
// none is waiting.
Received receiveMessage(int socket, bool nonBlocking = false);

// "dial 8080 7" -> {"dial", "8080", "7"}.
std::vector<std::string> words(std::string_view text);
// The value of `key=value` among `items`, or empty.
std::string valueOf(const std::vector<std::string>& items, std::string_view key);

}  // namespace tether::netns
