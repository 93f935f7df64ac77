// NamespaceExec.hpp - `tether netns-exec`: runs a command in its own user, network and mount namespaces,
// made by an unprivileged user, and hands that network's sockets to the session that launched it.
//
// Inside the namespace every TCP connection to an address outside 127.0.0.0/8 is redirected (nftables,
// `redirect` on the output hook) to one listener whose descriptor the backend holds: the backend reads the
// original destination (SO_ORIGINAL_DST) and sends the connection through the tunnel. DNS is a resolver on
// 127.0.0.1:53 inside, also served by the backend through the tunnel, named by a private resolv.conf with
// the pod's search path. Loopback inside is the program's own: the backend asks the wrapper for a socket
// connected to 127.0.0.1:PORT inside whenever the session's inbound traffic or a debugger arrives.
//
// Why redirect + SO_ORIGINAL_DST rather than a TUN device and a userspace TCP/IP stack: /dev/net/tun is
// mode 0600 on many hosts (Debian's default), so an unprivileged user cannot open it even as "root" of its
// own namespace, while nftables works in any network namespace its user namespace owns. The kernel's own
// TCP stack then does everything a userspace stack would have to re-implement.
//
// Must run before any thread starts: unshare(CLONE_NEWUSER) refuses a multithreaded caller.
#pragma once

#include <string>

namespace tether::netns {

// Empty when `tether netns-exec` can work on this machine (ip and nft installed, an unprivileged user
// namespace can be made), else why not, in a sentence that names what to change. Forks a probe child.
std::string namespaceUnavailable();

// argv[0] is "netns-exec". Returns the process's exit code (the command's, or 125 and a message on
// stderr when the namespace could not be made).
int runNamespaceExec(int argc, char** argv);

}  // namespace tether::netns
