// NamespaceExec.cpp - the wrapper: namespaces, the network inside them, the sockets handed over, the
// command, and the dial requests served until the command ends.
#include "server/netns/NamespaceExec.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "server/netns/FdMessage.hpp"

extern char** environ;

namespace tether::netns {

namespace {

constexpr int kSetupFailed = 125;  // as env(1) and unshare(1): the wrapper, not the command, failed
constexpr const char* kVethInside = "tether0";
constexpr const char* kVethPeer = "tether1";
// TEST-NET-1 (RFC 5737): never a real destination, so the namespace's only route cannot shadow one.
constexpr const char* kVethAddress = "192.0.2.1/24";
constexpr const char* kVethGateway = "192.0.2.2";

volatile sig_atomic_t gCommand = 0;

extern "C" void forwardSignal(int signal) {
  if (gCommand > 0) ::kill(static_cast<pid_t>(gCommand), signal);
}

struct Options {
  std::string control;
  std::vector<std::string> forwards;  // extra ports to carry in (a debugger's), besides the session's
  std::vector<std::string> command;
  // After the session ended and the command was asked to end (SIGTERM): how long before it is killed.
  // Shorter than the CLI's own grace for CMD (10 s from a later moment), so this one is normally first.
  std::chrono::milliseconds stopGrace{5000};
};

void say(const std::string& text) {
  const std::string line = "tether netns-exec: " + text + "\n";
  [[maybe_unused]] const auto written = ::write(STDERR_FILENO, line.data(), line.size());
}

std::optional<Options> parse(int argc, char** argv) {
  Options options;
  if (const char* fromEnv = std::getenv("TETHER_NETNS_CONTROL")) options.control = fromEnv;
  int at = 1;
  for (; at < argc; ++at) {
    const std::string arg = argv[at];
    if (arg == "--") {
      ++at;
      break;
    }
    if ((arg == "--control" || arg == "--forward") && at + 1 < argc) {
      (arg == "--control" ? options.control : options.forwards.emplace_back()) = argv[++at];
      continue;
    }
    say("unknown argument '" + arg +
        "'. Usage: tether netns-exec [--control SOCKET] [--forward PORT]... -- CMD [ARGS]");
    return std::nullopt;
  }
  for (; at < argc; ++at) options.command.emplace_back(argv[at]);
  if (options.command.empty()) {
    say("no command given. Usage: tether netns-exec [--control SOCKET] [--forward PORT]... -- CMD [ARGS]");
    return std::nullopt;
  }
  if (options.control.empty()) {
    say("no session to attach to: TETHER_NETNS_CONTROL is not set. Run the command through "
        "`tether connect --outbound netns -- CMD` (or any mode with --outbound netns).");
    return std::nullopt;
  }
  for (const auto& port : options.forwards) {
    const long number = std::strtol(port.c_str(), nullptr, 10);
    if (number < 1 || number > 65535 || std::to_string(number) != port) {
      say("--forward " + port + " is not a port (1-65535)");
      return std::nullopt;
    }
  }
  return options;
}

int connectControl(const std::string& path) {
  sockaddr_un address{};
  if (path.size() >= sizeof(address.sun_path)) return -1;
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

bool writeFile(const char* path, const std::string& text) {
  const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

// The tools run with the namespace's network capabilities as ambient ones, since this process keeps the
// caller's uid inside (a program that refuses to run as root, like postgres, must not see uid 0).
void raiseNetworkCapabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &header, data) != 0) return;
  const int caps[] = {CAP_NET_ADMIN, CAP_NET_BIND_SERVICE, CAP_NET_RAW};
  for (const int cap : caps) data[cap / 32].inheritable |= 1u << (cap % 32);
  if (::syscall(SYS_capset, &header, data) != 0) return;
  for (const int cap : caps) ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0);
}

std::string findTool(const char* name) {
  for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"}) {
    const std::string path = std::string(dir) + name;
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return {};
}

// Runs `tool args...` and returns empty on success, else what it printed (or why it could not start).
std::string runTool(const char* tool, const std::vector<std::string>& args) {
  const std::string path = findTool(tool);
  if (path.empty()) {
    return std::string(tool) + " is not installed (Debian: apt install " +
           (std::string(tool) == "nft" ? "nftables" : "iproute2") + ")";
  }
  int output[2];
  if (::pipe2(output, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
  std::vector<std::string> argText{path};
  argText.insert(argText.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : argText) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t child = ::fork();
  if (child == 0) {
    ::dup2(output[1], STDOUT_FILENO);
    ::dup2(output[1], STDERR_FILENO);
    raiseNetworkCapabilities();
    ::execv(path.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(output[1]);
  std::string printed;
  char buffer[1024];
  for (ssize_t n; (n = ::read(output[0], buffer, sizeof(buffer))) > 0 || (n < 0 && errno == EINTR);) {
    if (n > 0 && printed.size() < 4096) printed.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(output[0]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  while (!printed.empty() && (printed.back() == '\n' || printed.back() == ' ')) printed.pop_back();
  std::string command = tool;
  for (const auto& arg : args) command += " " + arg;
  return "`" + command + "` failed: " + (printed.empty() ? "exit status " + std::to_string(status) : printed);
}

// A socket of `type` bound to 127.0.0.1:port inside the namespace (port 0: any), listening when TCP.
int loopbackSocket(int type, std::uint16_t port, std::string& error) {
  const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int one = 1;
  if (fd >= 0) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      (type == SOCK_STREAM && ::listen(fd, SOMAXCONN) != 0)) {
    error = "127.0.0.1:" + std::to_string(port) + " inside the namespace: " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return -1;
  }
  return fd;
}

std::uint16_t portOf(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return ntohs(address.sin_port);
}

std::string userNamespaceHelp(int error) {
  std::string text =
      "cannot create a user namespace as an unprivileged user (" + std::string(std::strerror(error)) +
      "). This host restricts them: check `sysctl user.max_user_namespaces` (must be above 0), "
      "`kernel.unprivileged_userns_clone` (Debian before 11; must be 1) and "
      "`kernel.apparmor_restrict_unprivileged_userns` (Ubuntu 23.10 and later; must be 0, or an "
      "AppArmor profile must allow this program). Without them, use --outbound preload "
      "(dynamically linked programs) or the default --outbound proxy.";
  return text;
}

// Everything between unshare and a working network; empty on success, else what failed.
std::string buildNamespace(const std::vector<std::string>& config, int& transparent, int& dnsUdp,
                           int& dnsTcp) {
  const uid_t uid = ::getuid();
  const gid_t gid = ::getgid();
  if (::unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS) != 0) return userNamespaceHelp(errno);
  // The caller's own ids, mapped to themselves: files keep their owners, and the command is not root.
  if (!writeFile("/proc/self/setgroups", "deny") ||
      !writeFile("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1\n") ||
      !writeFile("/proc/self/gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1\n")) {
    return std::string("cannot map this user into its namespace: ") + std::strerror(errno);
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return std::string("cannot make the namespace's mounts private: ") + std::strerror(errno);
  }

  // A route is needed before a connect to a cluster address reaches the output hook; a veth pair with
  // both ends inside gives one without touching the host.
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"link", "set", "lo", "up"},
           {"link", "add", kVethInside, "type", "veth", "peer", "name", kVethPeer},
           {"addr", "add", kVethAddress, "dev", kVethInside},
           {"link", "set", kVethInside, "up"},
           {"link", "set", kVethPeer, "up"},
           {"route", "add", "default", "via", kVethGateway, "dev", kVethInside, "onlink"}}) {
    if (auto failed = runTool("ip", args); !failed.empty()) return failed;
  }

  std::string error;
  transparent = loopbackSocket(SOCK_STREAM, 0, error);
  if (transparent < 0) return error;
  dnsUdp = loopbackSocket(SOCK_DGRAM, 53, error);
  if (dnsUdp < 0) return error;
  dnsTcp = loopbackSocket(SOCK_STREAM, 53, error);
  if (dnsTcp < 0) return error;

  const std::string port = std::to_string(portOf(transparent));
  if (auto failed =
          runTool("nft", {"add table ip tether; add chain ip tether output { type nat hook output priority "
                          "-100 ; } ; add rule ip tether output ip daddr != 127.0.0.0/8 meta l4proto tcp "
                          "redirect to :" +
                          port});
      !failed.empty()) {
    return failed;
  }

  // The pod's resolver settings, so `redis` and `orders.other-ns` resolve as they would in a pod.
  std::string resolv =
      "# tether netns-exec: names resolve as in a pod of the session's namespace\n"
      "nameserver 127.0.0.1\n";
  const auto search = valueOf(config, "search");
  if (!search.empty()) {
    std::string list = search;
    for (auto& c : list) c = c == ',' ? ' ' : c;
    resolv += "search " + list + "\n";
  }
  resolv +=
      "options ndots:" + (valueOf(config, "ndots").empty() ? std::string("5") : valueOf(config, "ndots")) +
      "\n";
  char path[] = "/tmp/tether-resolv-XXXXXX";
  const int file = ::mkostemp(path, O_CLOEXEC);
  if (file < 0) return std::string("cannot write the namespace's resolv.conf: ") + std::strerror(errno);
  const bool written = ::write(file, resolv.data(), resolv.size()) == static_cast<ssize_t>(resolv.size());
  ::fchmod(file, 0644);
  ::close(file);
  const bool mounted = written && ::mount(path, "/etc/resolv.conf", nullptr, MS_BIND, nullptr) == 0;
  const int saved = errno;
  ::unlink(path);  // the bind mount keeps the file alive
  if (!mounted) return std::string("cannot put a private /etc/resolv.conf in place: ") + std::strerror(saved);
  return {};
}

// Connects `fd` to `address` within `boundMs` (the program may be stopped in a debugger with its backlog
// full: a blocking connect would wait out the SYN retries while every other dial waits behind it).
int connectWithin(int fd, const sockaddr* address, socklen_t length, int boundMs) {
  const int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  if (::connect(fd, address, length) == 0) return 0;
  if (errno != EINPROGRESS) return errno;
  pollfd writable{fd, POLLOUT, 0};
  const int ready = ::poll(&writable, 1, boundMs);
  if (ready <= 0) return ETIMEDOUT;
  int error = 0;
  socklen_t size = sizeof(error);
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size);
  if (error == 0) ::fcntl(fd, F_SETFL, flags);
  return error;
}

// Answers "dial PORT SEQ": a socket connected to the program's PORT on the namespace's loopback.
void serveDial(int control, const std::vector<std::string>& request) {
  constexpr int kDialBoundMs = 2000;
  if (request.size() < 3) return;
  const long port = std::strtol(request[1].c_str(), nullptr, 10);
  const std::string& seq = request[2];
  int lastError = EINVAL;
  if (port >= 1 && port <= 65535) {
    for (const int family : {AF_INET, AF_INET6}) {
      const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        lastError = errno;
        continue;
      }
      sockaddr_in v4{};
      v4.sin_family = AF_INET;
      v4.sin_port = htons(static_cast<std::uint16_t>(port));
      v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      sockaddr_in6 v6{};
      v6.sin6_family = AF_INET6;
      v6.sin6_port = htons(static_cast<std::uint16_t>(port));
      v6.sin6_addr = in6addr_loopback;
      const int error = family == AF_INET
                            ? connectWithin(fd, reinterpret_cast<sockaddr*>(&v4), sizeof(v4), kDialBoundMs)
                            : connectWithin(fd, reinterpret_cast<sockaddr*>(&v6), sizeof(v6), kDialBoundMs);
      if (error == 0) {
        sendMessage(control, "dialed " + seq + " ok", {fd});
        ::close(fd);
        return;
      }
      lastError = error;
      ::close(fd);
    }
  }
  sendMessage(control, "dialed " + seq + " failed " + std::to_string(lastError));
}

int exitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

std::string namespaceUnavailable() {
  std::string missing;
  for (const char* tool : {"ip", "nft"}) {
    if (findTool(tool).empty()) missing += std::string(missing.empty() ? "" : ", ") + tool;
  }
  if (!missing.empty()) return missing + " missing (Debian: apt install iproute2 nftables)";
  const pid_t child = ::fork();
  if (child == 0) ::_exit(::unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0 ? 0 : 1);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  return "this host refuses unprivileged user namespaces (check sysctl user.max_user_namespaces, "
         "kernel.unprivileged_userns_clone, kernel.apparmor_restrict_unprivileged_userns)";
}

int runNamespaceExec(int argc, char** argv) {
  const auto options = parse(argc, argv);
  if (!options) return 2;
  const int control = connectControl(options->control);
  if (control < 0) {
    say("cannot reach the session at " + options->control + ": " + std::strerror(errno) +
        ". Is the session still running? Start the command through `tether connect --outbound netns -- "
        "CMD`.");
    return kSetupFailed;
  }
  std::string hello = "hello version=1 pid=" + std::to_string(::getpid());
  for (const auto& port : options->forwards) hello += " forward=" + port;
  sendMessage(control, hello);
  const auto reply = receiveMessage(control);
  const auto config = words(reply.text);
  if (config.empty() || config[0] != "config") {
    say("the session refused this namespace: " +
        (reply.ended ? std::string("it closed the connection") : reply.text));
    return kSetupFailed;
  }

  int transparent = -1, dnsUdp = -1, dnsTcp = -1;
  if (auto failed = buildNamespace(config, transparent, dnsUdp, dnsTcp); !failed.empty()) {
    sendMessage(control, "failed " + failed);
    say(failed);
    return kSetupFailed;
  }
  if (!sendMessage(control, "ready", {transparent, dnsUdp, dnsTcp})) {
    say(std::string("cannot hand the namespace's sockets to the session: ") + std::strerror(errno));
    return kSetupFailed;
  }
  ::close(transparent);
  ::close(dnsUdp);
  ::close(dnsTcp);

  // Signals for the command go to the command; the wrapper ends when it does.
  struct sigaction forward {};
  forward.sa_handler = forwardSignal;
  for (const int signal : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::sigaction(signal, &forward, nullptr);

  std::vector<std::string> argText(options->command);
  std::vector<char*> commandArgv;
  for (auto& arg : argText) commandArgv.push_back(arg.data());
  commandArgv.push_back(nullptr);
  const pid_t wrapper = ::getpid();
  const pid_t child = ::fork();
  if (child == 0) {
    // Killed with the wrapper: a wrapper killed outright (by the CLI's or a debug adapter's SIGKILL) cannot
    // pass anything on, and a command that ignores SIGTERM would outlive its session.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != wrapper) ::_exit(125);  // the wrapper died before the signal was armed
    ::execvp(commandArgv[0], commandArgv.data());
    say("cannot run " + options->command[0] + ": " + std::strerror(errno));
    ::_exit(127);
  }
  gCommand = child;
  sendMessage(control, "started pid=" + std::to_string(child));

  const int childFd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
  bool sessionOpen = true;
  std::chrono::steady_clock::time_point killAt{};  // set once the command was asked to end
  for (;;) {
    pollfd watched[2] = {{childFd, POLLIN, 0}, {sessionOpen ? control : -1, POLLIN, 0}};
    int timeout = -1;
    if (!sessionOpen) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(killAt - std::chrono::steady_clock::now());
      timeout = static_cast<int>(std::max<std::int64_t>(0, left.count()));
    }
    const int ready = ::poll(watched, 2, timeout);
    if (ready < 0 && errno != EINTR) break;
    if (ready == 0 && !sessionOpen) {
      // A command that ignores SIGTERM must not outlive its session forever, holding its ports.
      say("the command did not end within " + std::to_string(options->stopGrace.count()) +
          " ms of the session's end; killing it");
      ::kill(child, SIGKILL);
      break;
    }
    if (childFd < 0 || (watched[0].revents & POLLIN) != 0) break;
    if ((watched[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const auto message = receiveMessage(control);
      if (message.ended || (message.error != 0 && message.error != EAGAIN && message.error != EMSGSIZE)) {
        // The session ended: the namespace's way out is gone, so the command is asked to end too.
        sessionOpen = false;
        ::kill(child, SIGTERM);
        killAt = std::chrono::steady_clock::now() + options->stopGrace;
        continue;
      }
      for (const int fd : message.fds) ::close(fd);
      const auto request = words(message.text);
      if (!request.empty() && request[0] == "dial") serveDial(control, request);
    }
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (sessionOpen) sendMessage(control, "exited status=" + std::to_string(exitCodeOf(status)));
  return exitCodeOf(status);
}

}  // namespace tether::netns
