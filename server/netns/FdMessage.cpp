// FdMessage.cpp - sendmsg/recvmsg with SCM_RIGHTS.
#include "server/netns/FdMessage.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace tether::netns {

bool sendMessage(int socket, std::string_view text, const std::vector<int>& fds) {
  if (fds.size() > kMaxMessageFds || text.size() > kMaxMessageBytes) {
    errno = EMSGSIZE;
    return false;
  }
  iovec io{const_cast<char*>(text.data()), text.size()};
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int) * kMaxMessageFds)> control{};
  if (!fds.empty()) {
    message.msg_control = control.data();
    message.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(header), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    const auto sent = ::sendmsg(socket, &message, MSG_NOSIGNAL);
    if (sent >= 0) return true;
    if (errno != EINTR) return false;
  }
}

Received receiveMessage(int socket, bool nonBlocking) {
  Received received;
  std::array<char, kMaxMessageBytes> buffer{};
  iovec io{buffer.data(), buffer.size()};
  msghdr message{};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int) * kMaxMessageFds)> control{};
  message.msg_control = control.data();
  message.msg_controllen = control.size();
  ssize_t got = 0;
  for (;;) {
    got = ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC | (nonBlocking ? MSG_DONTWAIT : 0));
    if (got >= 0 || errno != EINTR) break;
  }
  if (got < 0) {
    received.error = errno;
    return received;
  }
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr; header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof(int));
      received.fds.push_back(fd);
    }
  }
  if (got == 0 && received.fds.empty()) {
    received.ended = true;
    return received;
  }
  if ((message.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
    // A message we could not take whole is not understood; its descriptors must not leak.
    for (const int fd : received.fds) ::close(fd);
    received.fds.clear();
    received.error = EMSGSIZE;
    return received;
  }
  received.text.assign(buffer.data(), static_cast<std::size_t>(got));
  return received;
}

std::vector<std::string> words(std::string_view text) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < text.size()) {
    while (at < text.size() && (text[at] == ' ' || text[at] == '\n')) ++at;
    const auto start = at;
    while (at < text.size() && text[at] != ' ' && text[at] != '\n') ++at;
    if (at > start) out.emplace_back(text.substr(start, at - start));
  }
  return out;
}

std::string valueOf(const std::vector<std::string>& items, std::string_view key) {
  for (const auto& item : items) {
    if (item.size() > key.size() && item.compare(0, key.size(), key) == 0 && item[key.size()] == '=') {
      return item.substr(key.size() + 1);
    }
  }
  return {};
}

}  // namespace tether::netns
