/* tether_preload.c - `--outbound preload`: an LD_PRELOAD library for dynamically linked programs on glibc.
 *
 * It changes two things and nothing else:
 *   - names of the cluster resolve as in a pod (getaddrinfo, gethostbyname{,2}{,_r}): the session resolves
 *     them with the pod's search path through the agent, and the program gets the real ClusterIPs and pod
 *     IPs, so code that looks at addresses sees what it would in the cluster;
 *   - a TCP connect to an address in the cluster's ranges goes to the session instead: the socket is bound to
 *     127.0.0.1:0, the session is told which local port is meant for which address, and the socket connects
 *     to the session's port, in the caller's own blocking mode (a non-blocking connect still returns
 *     EINPROGRESS and completes asynchronously). getpeername reports the cluster address.
 *   - a UDP datagram to a nameserver of /etc/resolv.conf, port 53 (c-ares in Node's dns.resolve, a program's
 *     own resolver), goes to the session's DNS port instead, which answers cluster names as getaddrinfo
 *     here does and asks that nameserver the rest; recvfrom, recvmsg and getpeername give the nameserver's
 *     address back, so a resolver that checks where its answer came from accepts it.
 * Everything else (loopback, other addresses, other UDP, names outside the cluster) goes to libc untouched.
 *
 * The connect path is async-signal-safe, as connect itself is: a fresh Unix socket per question, buffers on
 * the stack, no malloc, no locks; so it is safe in threads, after fork and in signal handlers. The settings
 * come from the environment (TETHER_PRELOAD, TETHER_PRELOAD_PORT, TETHER_PRELOAD_RANGES,
 * TETHER_PRELOAD_DOMAINS, TETHER_PRELOAD_DNS_PORT, TETHER_PRELOAD_NAMESERVERS), read once when the library
 * is loaded.
 *
 * A blocking connect waits for the session's dial, so a remote refusal is ECONNREFUSED from connect as
 * usual; for a non-blocking socket it shows as ECONNRESET on the first read or write, since the local
 * connect has completed by then. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_RANGES 1024 /* a narrowed range is one /32 per known address */
#define MAX_DOMAINS 8
#define MAX_TEXT 256
#define MAX_ADDRESSES 16
#define MAX_NAMESERVERS 3 /* as many as glibc reads from resolv.conf */
#define MAX_MARKED_FDS 65536

struct range {
  uint32_t network; /* host order */
  uint32_t mask;
};

static int enabled;
static char control_path[108];
static uint16_t session_port;
static struct range ranges[MAX_RANGES];
static int range_count;
static char domains[MAX_DOMAINS][MAX_TEXT];
static int domain_count;
static uint16_t dns_port;
static struct range nameservers[MAX_NAMESERVERS];
static int nameserver_count;
/* Which nameserver (index + 1) a UDP socket's questions were meant for, by descriptor: its answers are
 * given back as from there. Plain byte stores: async-signal-safe, and a stale entry is harmless (only a
 * datagram from the session's DNS port is ever rewritten). */
static unsigned char asked_nameserver[MAX_MARKED_FDS];

static int (*real_connect)(int, const struct sockaddr*, socklen_t);
static int (*real_getpeername)(int, struct sockaddr*, socklen_t*);
static int (*real_getaddrinfo)(const char*, const char*, const struct addrinfo*, struct addrinfo**);
static struct hostent* (*real_gethostbyname)(const char*);
static struct hostent* (*real_gethostbyname2)(const char*, int);
static int (*real_gethostbyname_r)(const char*, struct hostent*, char*, size_t, struct hostent**, int*);
static int (*real_getnameinfo)(const struct sockaddr*, socklen_t, char*, socklen_t, char*, socklen_t, int);
static struct hostent* (*real_gethostbyaddr)(const void*, socklen_t, int);
static int (*real_gethostbyname2_r)(const char*, int, struct hostent*, char*, size_t, struct hostent**, int*);
static ssize_t (*real_sendto)(int, const void*, size_t, int, const struct sockaddr*, socklen_t);
static ssize_t (*real_sendmsg)(int, const struct msghdr*, int);
static ssize_t (*real_recvfrom)(int, void*, size_t, int, struct sockaddr*, socklen_t*);
static ssize_t (*real_recvmsg)(int, struct msghdr*, int);

/* "10.96.0.0/16,10.244.0.0/16" (a bare address is a /32) into `out`; how many were read. */
static int parse_ranges(const char* text, struct range* out, int capacity) {
  int count = 0;
  while (text && *text && count < capacity) {
    char item[64];
    size_t length = strcspn(text, ",");
    if (length < sizeof(item)) {
      memcpy(item, text, length);
      item[length] = '\0';
      char* slash = strchr(item, '/');
      int bits = 32;
      if (slash) {
        *slash = '\0';
        bits = atoi(slash + 1);
      }
      struct in_addr address;
      if (inet_pton(AF_INET, item, &address) == 1 && bits >= 0 && bits <= 32) {
        uint32_t mask = bits == 0 ? 0 : 0xFFFFFFFFu << (32 - bits);
        out[count].network = ntohl(address.s_addr) & mask;
        out[count].mask = mask;
        count++;
      }
    }
    text += length;
    if (*text == ',') text++;
  }
  return count;
}

static void parse_domains(const char* text) {
  while (text && *text && domain_count < MAX_DOMAINS) {
    size_t length = strcspn(text, ",");
    if (length > 0 && length < MAX_TEXT) {
      memcpy(domains[domain_count], text, length);
      domains[domain_count][length] = '\0';
      domain_count++;
    }
    text += length;
    if (*text == ',') text++;
  }
}

__attribute__((constructor)) static void load(void) {
  real_connect = dlsym(RTLD_NEXT, "connect");
  real_getpeername = dlsym(RTLD_NEXT, "getpeername");
  real_getaddrinfo = dlsym(RTLD_NEXT, "getaddrinfo");
  real_gethostbyname = dlsym(RTLD_NEXT, "gethostbyname");
  real_gethostbyname2 = dlsym(RTLD_NEXT, "gethostbyname2");
  real_gethostbyname_r = dlsym(RTLD_NEXT, "gethostbyname_r");
  real_gethostbyname2_r = dlsym(RTLD_NEXT, "gethostbyname2_r");
  real_getnameinfo = dlsym(RTLD_NEXT, "getnameinfo");
  real_gethostbyaddr = dlsym(RTLD_NEXT, "gethostbyaddr");
  real_sendto = dlsym(RTLD_NEXT, "sendto");
  real_sendmsg = dlsym(RTLD_NEXT, "sendmsg");
  real_recvfrom = dlsym(RTLD_NEXT, "recvfrom");
  real_recvmsg = dlsym(RTLD_NEXT, "recvmsg");
  const char* path = getenv("TETHER_PRELOAD");
  const char* port = getenv("TETHER_PRELOAD_PORT");
  if (!path || !port || strlen(path) >= sizeof(control_path)) return;
  strcpy(control_path, path);
  session_port = (uint16_t)atoi(port);
  range_count = parse_ranges(getenv("TETHER_PRELOAD_RANGES"), ranges, MAX_RANGES);
  parse_domains(getenv("TETHER_PRELOAD_DOMAINS"));
  enabled = session_port != 0 && real_connect && real_getpeername && real_getaddrinfo;
  const char* dns = getenv("TETHER_PRELOAD_DNS_PORT");
  nameserver_count = parse_ranges(getenv("TETHER_PRELOAD_NAMESERVERS"), nameservers, MAX_NAMESERVERS);
  if (enabled && dns && real_sendto && real_sendmsg && real_recvfrom && real_recvmsg)
    dns_port = (uint16_t)atoi(dns);
}

/* One question to the session on a fresh connection; the answer line (without its newline) in `reply`.
 * Async-signal-safe: only syscalls and stack memory. Returns 0, or -1 when the session cannot be asked. */
static int ask(const char* question, size_t length, char* reply, size_t size) {
  int saved = errno;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  /* A session that stopped answering must not hang the program: longer than the session's own bound on a
   * request (15 s), so its answer comes first when there is one. */
  struct timeval bound = {.tv_sec = 20, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof(bound));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &bound, sizeof(bound));
  struct sockaddr_un address;
  memset(&address, 0, sizeof(address));
  address.sun_family = AF_UNIX;
  memcpy(address.sun_path, control_path, strlen(control_path));
  int result = -1;
  if (real_connect(fd, (struct sockaddr*)&address, sizeof(address)) == 0) {
    size_t sent = 0;
    while (sent < length) {
      ssize_t n = write(fd, question + sent, length - sent);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      sent += (size_t)n;
    }
    size_t got = 0;
    while (sent == length && got + 1 < size) {
      ssize_t n = read(fd, reply + got, size - 1 - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += (size_t)n;
      if (memchr(reply, '\n', got)) break;
    }
    reply[got] = '\0';
    char* newline = memchr(reply, '\n', got);
    if (newline) {
      *newline = '\0';
      result = 0;
    }
  }
  close(fd);
  errno = saved;
  return result;
}

/* Appends decimal `value` to `out` at *at (no snprintf: not async-signal-safe). */
static void put_number(char* out, size_t* at, unsigned value) {
  char digits[12];
  int count = 0;
  do {
    digits[count++] = (char)('0' + value % 10);
    value /= 10;
  } while (value);
  while (count) out[(*at)++] = digits[--count];
}

static void put_text(char* out, size_t* at, const char* text) {
  size_t length = strlen(text);
  memcpy(out + *at, text, length);
  *at += length;
}

/* Appends `ip` (host order) as a dotted quad. */
static void put_ipv4(char* out, size_t* at, uint32_t ip) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    put_number(out, at, (ip >> shift) & 0xFF);
    if (shift) put_text(out, at, ".");
  }
}

/* The IPv4 address a connect is for (a sockaddr_in, or a v4-mapped sockaddr_in6); 0 when neither. */
static int destination_v4(const struct sockaddr* address, socklen_t length, uint32_t* ip, uint16_t* port) {
  if (address->sa_family == AF_INET && length >= sizeof(struct sockaddr_in)) {
    const struct sockaddr_in* in = (const struct sockaddr_in*)address;
    *ip = ntohl(in->sin_addr.s_addr);
    *port = ntohs(in->sin_port);
    return 1;
  }
  if (address->sa_family == AF_INET6 && length >= sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6* in6 = (const struct sockaddr_in6*)address;
    if (!IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) return 0;
    memcpy(ip, &in6->sin6_addr.s6_addr[12], 4);
    *ip = ntohl(*ip);
    *port = ntohs(in6->sin6_port);
    return 1;
  }
  return 0;
}

static int in_cluster(uint32_t ip) {
  if (ip == 0x7F000001u) return 0; /* 127.0.0.1 is the session's own address, whatever the ranges say */
  for (int i = 0; i < range_count; ++i) {
    if ((ip & ranges[i].mask) == ranges[i].network) return 1;
  }
  return 0;
}

/* Fills a loopback address of the socket's own family: 127.0.0.1:port or ::ffff:127.0.0.1:port. */
static socklen_t loopback(int family, uint16_t port, struct sockaddr_storage* out) {
  memset(out, 0, sizeof(*out));
  if (family == AF_INET6) {
    struct sockaddr_in6* in6 = (struct sockaddr_in6*)out;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    in6->sin6_addr.s6_addr[10] = 0xFF;
    in6->sin6_addr.s6_addr[11] = 0xFF;
    in6->sin6_addr.s6_addr[12] = 127;
    in6->sin6_addr.s6_addr[15] = 1;
    return sizeof(struct sockaddr_in6);
  }
  struct sockaddr_in* in = (struct sockaddr_in*)out;
  in->sin_family = AF_INET;
  in->sin_port = htons(port);
  in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sizeof(struct sockaddr_in);
}

static uint16_t local_port(int fd) {
  struct sockaddr_storage bound;
  socklen_t length = sizeof(bound);
  if (getsockname(fd, (struct sockaddr*)&bound, &length) != 0) return 0;
  if (bound.ss_family == AF_INET) return ntohs(((struct sockaddr_in*)&bound)->sin_port);
  if (bound.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6*)&bound)->sin6_port);
  return 0;
}

/* --- UDP DNS ---------------------------------------------------------------------------------------- */

/* For a UDP datagram (or connect) to a nameserver's port 53: the session's DNS port in `out`, and the socket
 * marked, so answers read from it look as if from that nameserver. 0 for anything else. */
static int dns_redirect(int fd, const struct sockaddr* address, socklen_t length,
                        struct sockaddr_storage* out, socklen_t* outLength) {
  uint32_t ip = 0;
  uint16_t port = 0;
  /* A descriptor past the marks could not have its answers given back as the nameserver's: left alone. */
  if (!dns_port || !address || fd < 0 || fd >= MAX_MARKED_FDS) return 0;
  if (!destination_v4(address, length, &ip, &port) || port != 53) return 0;
  int which = -1;
  for (int i = 0; i < nameserver_count && which < 0; ++i) {
    if (ip == nameservers[i].network) which = i;
  }
  int type = 0;
  socklen_t typeLength = sizeof(type);
  if (which < 0 || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &typeLength) != 0 || type != SOCK_DGRAM)
    return 0;
  asked_nameserver[fd] = (unsigned char)(which + 1);
  *outLength = loopback(address->sa_family, dns_port, out);
  return 1;
}

/* An address the kernel reported for `fd` (a datagram's source, a connected peer): when it is the session's
 * DNS port, the nameserver the socket asked instead. `capacity` is the caller's buffer size. */
static void dns_restore(int fd, struct sockaddr* address, socklen_t capacity) {
  uint32_t ip = 0;
  uint16_t port = 0;
  if (!dns_port || !address || !destination_v4(address, capacity, &ip, &port) || ip != 0x7F000001u ||
      port != dns_port || fd < 0 || fd >= MAX_MARKED_FDS || asked_nameserver[fd] == 0)
    return;
  /* Only a UDP socket: a TCP connection to some local server on the same port number is not ours. */
  int type = 0;
  socklen_t typeLength = sizeof(type);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &typeLength) != 0 || type != SOCK_DGRAM) return;
  int which = asked_nameserver[fd] - 1;
  uint32_t server = htonl(nameservers[which].network);
  if (address->sa_family == AF_INET6) {
    struct sockaddr_in6* in6 = (struct sockaddr_in6*)address;
    memcpy(&in6->sin6_addr.s6_addr[12], &server, 4);
    in6->sin6_port = htons(53);
  } else {
    ((struct sockaddr_in*)address)->sin_addr.s_addr = server;
    ((struct sockaddr_in*)address)->sin_port = htons(53);
  }
}

ssize_t sendto(int fd, const void* data, size_t size, int flags, const struct sockaddr* address,
               socklen_t length) {
  if (!real_sendto) real_sendto = dlsym(RTLD_NEXT, "sendto");
  struct sockaddr_storage session;
  socklen_t sessionLength = 0;
  if (dns_redirect(fd, address, length, &session, &sessionLength))
    return real_sendto(fd, data, size, flags, (struct sockaddr*)&session, sessionLength);
  return real_sendto(fd, data, size, flags, address, length);
}

ssize_t sendmsg(int fd, const struct msghdr* message, int flags) {
  if (!real_sendmsg) real_sendmsg = dlsym(RTLD_NEXT, "sendmsg");
  struct sockaddr_storage session;
  socklen_t sessionLength = 0;
  if (message && dns_redirect(fd, message->msg_name, message->msg_namelen, &session, &sessionLength)) {
    struct msghdr redirected = *message;
    redirected.msg_name = &session;
    redirected.msg_namelen = sessionLength;
    return real_sendmsg(fd, &redirected, flags);
  }
  return real_sendmsg(fd, message, flags);
}

ssize_t recvfrom(int fd, void* data, size_t size, int flags, struct sockaddr* address, socklen_t* length) {
  if (!real_recvfrom) real_recvfrom = dlsym(RTLD_NEXT, "recvfrom");
  socklen_t capacity = length ? *length : 0;
  ssize_t got = real_recvfrom(fd, data, size, flags, address, length);
  if (got >= 0 && address && length && *length <= capacity) dns_restore(fd, address, *length);
  return got;
}

ssize_t recvmsg(int fd, struct msghdr* message, int flags) {
  if (!real_recvmsg) real_recvmsg = dlsym(RTLD_NEXT, "recvmsg");
  socklen_t capacity = message ? message->msg_namelen : 0;
  ssize_t got = real_recvmsg(fd, message, flags);
  if (got >= 0 && message && message->msg_name && message->msg_namelen <= capacity)
    dns_restore(fd, message->msg_name, message->msg_namelen);
  return got;
}

/* --- connections ------------------------------------------------------------------------------------- */

int connect(int fd, const struct sockaddr* address, socklen_t length) {
  if (!real_connect) real_connect = dlsym(RTLD_NEXT, "connect");
  struct sockaddr_storage nameserver;
  socklen_t nameserverLength = 0;
  if (dns_redirect(fd, address, length, &nameserver, &nameserverLength))
    return real_connect(fd, (struct sockaddr*)&nameserver, nameserverLength);
  uint32_t ip = 0;
  uint16_t port = 0;
  if (!enabled || !address || !destination_v4(address, length, &ip, &port) || !in_cluster(ip)) {
    return real_connect(fd, address, length);
  }
  int type = 0;
  socklen_t typeLength = sizeof(type);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &typeLength) != 0 || type != SOCK_STREAM) {
    return real_connect(fd, address, length);
  }
  int saved = errno;
  struct sockaddr_storage here;
  uint16_t from = local_port(fd);
  if (from == 0) {
    socklen_t hereLength = loopback(address->sa_family, 0, &here);
    if (bind(fd, (struct sockaddr*)&here, hereLength) != 0) return -1;
    from = local_port(fd);
  }
  /* A blocking socket's connect can wait for the remote dial, so it fails as a connect would (ECONNREFUSED,
   * ETIMEDOUT); a non-blocking one must return at once and learns of a failure as a reset. */
  int flags = fcntl(fd, F_GETFL);
  int blocking = flags >= 0 && !(flags & O_NONBLOCK);
  char question[96];
  size_t at = 0;
  put_text(question, &at, blocking ? "D " : "C ");
  put_number(question, &at, from);
  put_text(question, &at, " ");
  put_ipv4(question, &at, ip);
  put_text(question, &at, " ");
  put_number(question, &at, port);
  put_text(question, &at, "\n");
  char reply[32];
  if (ask(question, at, reply, sizeof(reply)) != 0) {
    errno = ENETUNREACH; /* the session is gone: the cluster cannot be reached */
    return -1;
  }
  if (reply[0] == 'F') {
    errno = strcmp(reply, "F refused") == 0   ? ECONNREFUSED
            : strcmp(reply, "F timeout") == 0 ? ETIMEDOUT
                                              : EHOSTUNREACH;
    return -1;
  }
  if (reply[0] != 'K') {
    errno = ENETUNREACH;
    return -1;
  }
  errno = saved;
  struct sockaddr_storage session;
  socklen_t sessionLength = loopback(address->sa_family, session_port, &session);
  return real_connect(fd, (struct sockaddr*)&session, sessionLength);
}

int getpeername(int fd, struct sockaddr* address, socklen_t* length) {
  if (!real_getpeername) real_getpeername = dlsym(RTLD_NEXT, "getpeername");
  socklen_t capacity = length ? *length : 0;
  int result = real_getpeername(fd, address, length);
  if (result != 0 || !enabled || !address || !length) return result;
  if (*length > capacity) return result; /* truncated by the kernel: nothing of ours to rewrite in place */
  dns_restore(fd, address, *length);
  uint32_t ip = 0;
  uint16_t port = 0;
  if (!destination_v4(address, *length, &ip, &port) || ip != 0x7F000001u || port != session_port)
    return result;
  char question[32];
  size_t at = 0;
  put_text(question, &at, "P ");
  put_number(question, &at, local_port(fd));
  put_text(question, &at, "\n");
  char reply[96];
  if (ask(question, at, reply, sizeof(reply)) != 0 || reply[0] != 'A') return result;
  char* text = reply + 2;
  char* space = strchr(text, ' ');
  if (!space) return result;
  *space = '\0';
  struct in_addr original;
  if (inet_pton(AF_INET, text, &original) != 1) return result;
  uint16_t originalPort = (uint16_t)atoi(space + 1);
  if (address->sa_family == AF_INET6) {
    struct sockaddr_in6* in6 = (struct sockaddr_in6*)address;
    memcpy(&in6->sin6_addr.s6_addr[12], &original, 4);
    in6->sin6_port = htons(originalPort);
  } else {
    struct sockaddr_in* in = (struct sockaddr_in*)address;
    in->sin_addr = original;
    in->sin_port = htons(originalPort);
  }
  return result;
}

/* --- names ------------------------------------------------------------------------------------------- */

static int ends_with(const char* text, const char* suffix) {
  size_t a = strlen(text), b = strlen(suffix);
  return a >= b && strcasecmp(text + a - b, suffix) == 0;
}

/* Whether the cluster may know `name`: 2 for names only the cluster resolves (`.svc`, under a search domain),
 * 1 for names it may resolve (a single label, `orders.shop` for another namespace: the pod's search path
 * makes them Services, and when the cluster has no such name the system's resolver is asked instead), 0 for
 * the rest (address literals, localhost, names with more dots). */
static int cluster_name(const char* name) {
  if (!enabled || !name || !*name || strlen(name) >= MAX_TEXT) return 0;
  struct in6_addr any;
  if (inet_pton(AF_INET, name, &any) == 1 || inet_pton(AF_INET6, name, &any) == 1) return 0;
  if (strcasecmp(name, "localhost") == 0 || ends_with(name, ".localhost")) return 0;
  char trimmed[MAX_TEXT];
  strcpy(trimmed, name);
  size_t length = strlen(trimmed);
  while (length && trimmed[length - 1] == '.') trimmed[--length] = '\0';
  if (ends_with(trimmed, ".svc")) return 2;
  for (int i = 0; i < domain_count; ++i) {
    char suffix[MAX_TEXT + 1] = ".";
    strcat(suffix, domains[i]);
    if (ends_with(trimmed, suffix) || strcasecmp(trimmed, domains[i]) == 0) return 2;
  }
  const char* dot = strchr(trimmed, '.');
  if (!dot || !strchr(dot + 1, '.')) return 1;
  return 0;
}

/* The session's addresses for `name`: how many (0: no such name), or -1 when it cannot be asked. */
static int resolve(const char* name, struct in_addr* out, int capacity) {
  char question[MAX_TEXT + 8];
  size_t at = 0;
  put_text(question, &at, "R ");
  put_text(question, &at, name);
  put_text(question, &at, "\n");
  char reply[MAX_ADDRESSES * 16 + 8];
  if (ask(question, at, reply, sizeof(reply)) != 0 || reply[0] == 'E') return -1;
  if (reply[0] != 'A') return 0;
  int count = 0;
  char* cursor = reply + 1;
  while (*cursor == ' ' && count < capacity) {
    cursor++;
    char* end = strchr(cursor, ' ');
    if (end) *end = '\0';
    if (inet_pton(AF_INET, cursor, &out[count]) == 1) count++;
    if (!end) break;
    *end = ' ';
    cursor = end;
  }
  return count;
}

int getaddrinfo(const char* node, const char* service, const struct addrinfo* hints,
                struct addrinfo** result) {
  if (!real_getaddrinfo) real_getaddrinfo = dlsym(RTLD_NEXT, "getaddrinfo");
  int kind = cluster_name(node);
  if (!kind || (hints && hints->ai_family == AF_INET6)) return real_getaddrinfo(node, service, hints, result);
  struct in_addr addresses[MAX_ADDRESSES];
  int count = resolve(node, addresses, MAX_ADDRESSES);
  /* A name only the cluster has, while the session cannot answer: try again later, as a resolver says. */
  if (count < 0 && kind == 2) return EAI_AGAIN;
  /* A maybe-name the cluster does not have (or cannot answer for): the system's resolver, as without Tether.
   */
  if (count < 0 || (count == 0 && kind == 1)) return real_getaddrinfo(node, service, hints, result);
  if (count == 0) return EAI_NONAME;
  /* libc builds each address's list (ports, socket types, flags) from the literal, so the result is what
   * it would have been for a name its own resolver knew. */
  struct addrinfo numeric;
  memset(&numeric, 0, sizeof(numeric));
  if (hints) numeric = *hints;
  numeric.ai_flags |= AI_NUMERICHOST;
  numeric.ai_flags &= ~AI_CANONNAME;
  if (numeric.ai_family == AF_UNSPEC) numeric.ai_family = AF_INET;
  struct addrinfo *head = NULL, **tail = &head;
  for (int i = 0; i < count; ++i) {
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &addresses[i], text, sizeof(text));
    struct addrinfo* one = NULL;
    int status = real_getaddrinfo(text, service, &numeric, &one);
    if (status != 0) {
      if (head) freeaddrinfo(head);
      return status;
    }
    *tail = one;
    while (*tail) tail = &(*tail)->ai_next;
  }
  if (head && hints && (hints->ai_flags & AI_CANONNAME)) head->ai_canonname = strdup(node);
  *result = head;
  return 0;
}

/* gethostbyname's family: a hostent in the caller's buffer (or a static one, as libc's own). */
static int fill_hostent(const char* name, const struct in_addr* addresses, int count, struct hostent* entry,
                        char* buffer, size_t size) {
  size_t need = strlen(name) + 1 + (size_t)(count + 1) * sizeof(char*) + sizeof(char*) +
                (size_t)count * sizeof(struct in_addr) + sizeof(void*);
  if (size < need) return ERANGE;
  char* cursor = buffer;
  uintptr_t misalign = (uintptr_t)cursor % sizeof(void*);
  if (misalign) cursor += sizeof(void*) - misalign;
  char** list = (char**)cursor;
  cursor += (size_t)(count + 1) * sizeof(char*);
  char** aliases = (char**)cursor;
  cursor += sizeof(char*);
  for (int i = 0; i < count; ++i) {
    memcpy(cursor, &addresses[i], sizeof(struct in_addr));
    list[i] = cursor;
    cursor += sizeof(struct in_addr);
  }
  list[count] = NULL;
  aliases[0] = NULL;
  strcpy(cursor, name);
  entry->h_name = cursor;
  entry->h_aliases = aliases;
  entry->h_addrtype = AF_INET;
  entry->h_length = sizeof(struct in_addr);
  entry->h_addr_list = list;
  return 0;
}

int gethostbyname2_r(const char* name, int family, struct hostent* entry, char* buffer, size_t size,
                     struct hostent** result, int* error) {
  if (!real_gethostbyname2_r) real_gethostbyname2_r = dlsym(RTLD_NEXT, "gethostbyname2_r");
  int kind = cluster_name(name);
  if (family != AF_INET || !kind)
    return real_gethostbyname2_r(name, family, entry, buffer, size, result, error);
  struct in_addr addresses[MAX_ADDRESSES];
  int count = resolve(name, addresses, MAX_ADDRESSES);
  if (count < 0 && kind == 2) {
    *result = NULL;
    *error = TRY_AGAIN;
    return EAGAIN;
  }
  if (count < 0 || (count == 0 && kind == 1)) {
    return real_gethostbyname2_r(name, family, entry, buffer, size, result, error);
  }
  *result = NULL;
  if (count == 0) {
    *error = HOST_NOT_FOUND;
    return 0;
  }
  int status = fill_hostent(name, addresses, count, entry, buffer, size);
  if (status != 0) {
    *error = NETDB_INTERNAL;
    return status;
  }
  *result = entry;
  return 0;
}

int gethostbyname_r(const char* name, struct hostent* entry, char* buffer, size_t size,
                    struct hostent** result, int* error) {
  if (!cluster_name(name)) {
    if (!real_gethostbyname_r) real_gethostbyname_r = dlsym(RTLD_NEXT, "gethostbyname_r");
    return real_gethostbyname_r(name, entry, buffer, size, result, error);
  }
  return gethostbyname2_r(name, AF_INET, entry, buffer, size, result, error);
}

static struct hostent static_entry;
static char static_buffer[2048];

struct hostent* gethostbyname2(const char* name, int family) {
  if (family != AF_INET || !cluster_name(name)) {
    if (!real_gethostbyname2) real_gethostbyname2 = dlsym(RTLD_NEXT, "gethostbyname2");
    return real_gethostbyname2(name, family);
  }
  struct hostent* result = NULL;
  int error = 0;
  gethostbyname2_r(name, family, &static_entry, static_buffer, sizeof(static_buffer), &result, &error);
  if (!result) h_errno = error;
  return result;
}

struct hostent* gethostbyname(const char* name) {
  if (!cluster_name(name)) {
    if (!real_gethostbyname) real_gethostbyname = dlsym(RTLD_NEXT, "gethostbyname");
    return real_gethostbyname(name);
  }
  return gethostbyname2(name, AF_INET);
}

/* --- addresses back to names ------------------------------------------------------------------------- */

/* The name the session resolved to `ip` (host order) into `name`; 1 when known. The cluster's resolver has
 * no reverse records to ask, so only names resolved through this shim are known. */
static int name_of(uint32_t ip, char* name, size_t size) {
  char question[32];
  size_t at = 0;
  put_text(question, &at, "N ");
  put_ipv4(question, &at, ip);
  put_text(question, &at, "\n");
  char reply[MAX_TEXT + 8];
  if (ask(question, at, reply, sizeof(reply)) != 0 || reply[0] != 'A' || strlen(reply + 2) >= size) return 0;
  strcpy(name, reply + 2);
  return 1;
}

int getnameinfo(const struct sockaddr* address, socklen_t length, char* host, socklen_t hostLength,
                char* service, socklen_t serviceLength, int flags) {
  if (!real_getnameinfo) real_getnameinfo = dlsym(RTLD_NEXT, "getnameinfo");
  uint32_t ip = 0;
  uint16_t port = 0;
  if (!enabled || !address || !host || hostLength == 0 || (flags & NI_NUMERICHOST) ||
      !destination_v4(address, length, &ip, &port) || !in_cluster(ip)) {
    return real_getnameinfo(address, length, host, hostLength, service, serviceLength, flags);
  }
  /* The service part, and the numeric host, from libc; then the cluster's name over it when known. */
  int numeric = (flags | NI_NUMERICHOST) & ~NI_NAMEREQD; /* libc refuses NAMEREQD with NUMERICHOST */
  int status = real_getnameinfo(address, length, host, hostLength, service, serviceLength, numeric);
  if (status != 0) return status;
  char name[MAX_TEXT];
  if (name_of(ip, name, sizeof(name))) {
    if (strlen(name) >= hostLength) return EAI_OVERFLOW;
    strcpy(host, name);
  } else if (flags & NI_NAMEREQD) {
    return EAI_NONAME;
  }
  return 0;
}

struct hostent* gethostbyaddr(const void* address, socklen_t length, int family) {
  if (!real_gethostbyaddr) real_gethostbyaddr = dlsym(RTLD_NEXT, "gethostbyaddr");
  uint32_t ip = 0;
  if (!enabled || family != AF_INET || length != 4 || !address)
    return real_gethostbyaddr(address, length, family);
  memcpy(&ip, address, 4);
  ip = ntohl(ip);
  if (!in_cluster(ip)) return real_gethostbyaddr(address, length, family);
  char name[MAX_TEXT];
  if (!name_of(ip, name, sizeof(name))) {
    h_errno = HOST_NOT_FOUND;
    return NULL;
  }
  struct in_addr one;
  memcpy(&one, address, 4);
  if (fill_hostent(name, &one, 1, &static_entry, static_buffer, sizeof(static_buffer)) != 0) return NULL;
  return &static_entry;
}
