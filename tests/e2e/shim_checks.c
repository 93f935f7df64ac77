/* shim_checks.c - the LD_PRELOAD shim's checks, run as the session's command
 * (tests/e2e/test_outbound_preload.py). Each check prints one line "NAME VALUE..." on stdout; the test reads
 * them. Usage: shim_checks SERVICE PORT NAMESPACE */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

static const char* service;
static const char* port;
/* Why fetches failed, by step (for a failure's reader). */
static int failed_resolve, failed_connect, failed_answer;
static pthread_mutex_t failures = PTHREAD_MUTEX_INITIALIZER;

static void count_failure(int* which) {
  pthread_mutex_lock(&failures);
  (*which)++;
  pthread_mutex_unlock(&failures);
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
}

/* The first IPv4 nameserver of /etc/resolv.conf, as a program with its own resolver finds it. */
static int first_nameserver(struct in_addr* out) {
  FILE* file = fopen("/etc/resolv.conf", "r");
  char line[256], address[64];
  int found = 0;
  while (file && !found && fgets(line, sizeof(line), file)) {
    found = sscanf(line, "nameserver %63s", address) == 1 && inet_pton(AF_INET, address, out) == 1;
  }
  if (file) fclose(file);
  return found;
}

/* One A question for `name` over UDP to the nameserver, as a resolver of its own sends it: by sendto, or
 * (`connected`) by connect + send, as c-ares does. Prints "LABEL ADDRESS from=1" when the answer came from
 * the nameserver's address (resolvers drop answers from anywhere else) and held an A record. */
static void raw_dns(const char* label, const char* name, int connected) {
  struct in_addr server;
  if (!first_nameserver(&server)) {
    printf("%s no-nameserver\n", label);
    return;
  }
  unsigned char query[300] = {0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0};
  size_t at = 12;
  for (const char* label_start = name; *label_start;) {
    size_t length = strcspn(label_start, ".");
    query[at++] = (unsigned char)length;
    memcpy(query + at, label_start, length);
    at += length;
    label_start += length;
    if (*label_start == '.') label_start++;
  }
  query[at++] = 0;
  const unsigned char tail[] = {0, 1, 0, 1}; /* A, IN */
  memcpy(query + at, tail, 4);
  at += 4;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(53), .sin_addr = server};
  ssize_t sent = connected
                     ? (connect(fd, (struct sockaddr*)&to, sizeof(to)) == 0 ? send(fd, query, at, 0) : -1)
                     : sendto(fd, query, at, 0, (struct sockaddr*)&to, sizeof(to));
  struct pollfd wait = {.fd = fd, .events = POLLIN};
  unsigned char answer[1500];
  struct sockaddr_in from = {0};
  socklen_t fromLength = sizeof(from);
  ssize_t got = -1;
  if (sent == (ssize_t)at && poll(&wait, 1, 10000) == 1)
    got = recvfrom(fd, answer, sizeof(answer), 0, (struct sockaddr*)&from, &fromLength);
  struct sockaddr_in peer = {0};
  socklen_t peerLength = sizeof(peer);
  int peerIsServer = !connected || (getpeername(fd, (struct sockaddr*)&peer, &peerLength) == 0 &&
                                    peer.sin_addr.s_addr == server.s_addr && ntohs(peer.sin_port) == 53);
  close(fd);
  /* The first A record: after the echoed question, each record is name(2, compressed) type class ttl len. */
  char text[INET_ADDRSTRLEN] = "none";
  if (got > (ssize_t)at && answer[0] == 0x12 && answer[1] == 0x34 && (answer[7] > 0 || answer[6] > 0)) {
    size_t record = at;
    while (record + 12 <= (size_t)got) {
      unsigned type = (unsigned)(answer[record + 2] << 8 | answer[record + 3]);
      unsigned length = (unsigned)(answer[record + 10] << 8 | answer[record + 11]);
      if (type == 1 && length == 4 && record + 16 <= (size_t)got) {
        inet_ntop(AF_INET, answer + record + 12, text, sizeof(text));
        break;
      }
      record += 12 + length;
    }
  }
  int fromServer = got >= 0 && from.sin_addr.s_addr == server.s_addr && ntohs(from.sin_port) == 53;
  printf("%s %s from=%d peer=%d\n", label, text, fromServer, peerIsServer);
}

/* Resolves SERVICE, connects (blocking), sends a GET for `path`, and says whether the answer names SERVICE.
 */
static int fetch(const char* path) {
  struct addrinfo hints = {0}, *found = NULL;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(service, port, &hints, &found) != 0) {
    count_failure(&failed_resolve);
    return 0;
  }
  int fd = socket(found->ai_family, SOCK_STREAM, 0);
  int ok = 0;
  const int connected = fd >= 0 && connect(fd, found->ai_addr, found->ai_addrlen) == 0;
  if (!connected) count_failure(&failed_connect);
  if (connected) {
    char request[256];
    int length = snprintf(request, sizeof(request), "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, service);
    if (write(fd, request, length) == length) {
      char answer[8192];
      size_t got = 0;
      ssize_t n;
      while (got < sizeof(answer) - 1 && (n = read(fd, answer + got, sizeof(answer) - 1 - got)) > 0) got += n;
      answer[got] = '\0';
      char needle[128];
      snprintf(needle, sizeof(needle), "\"service\": \"%s\"", service);
      ok = strstr(answer, needle) != NULL && strstr(answer, path) != NULL;
      if (!ok) count_failure(&failed_answer);
    }
  }
  if (fd >= 0) close(fd);
  freeaddrinfo(found);
  return ok;
}

static void* thread_fetch(void* arg) {
  (void)arg;
  return (void*)(long)fetch("/thread");
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  service = argv[1];
  port = argv[2];
  setvbuf(stdout, NULL, _IOLBF, 0);

  /* Resolution: the Service's ClusterIP, as in a pod. */
  struct addrinfo hints = {0}, *found = NULL;
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  int status = getaddrinfo(service, port, &hints, &found);
  char ip[INET_ADDRSTRLEN] = "none";
  if (status == 0) inet_ntop(AF_INET, &((struct sockaddr_in*)found->ai_addr)->sin_addr, ip, sizeof(ip));
  printf("resolved %s\n", ip);
  struct hostent* entry = gethostbyname(service);
  char legacy[INET_ADDRSTRLEN] = "none";
  if (entry) inet_ntop(AF_INET, entry->h_addr_list[0], legacy, sizeof(legacy));
  printf("gethostbyname %s\n", legacy);
  char reverse[256] = "none";
  if (status == 0)
    getnameinfo(found->ai_addr, found->ai_addrlen, reverse, sizeof(reverse), NULL, 0, NI_NAMEREQD);
  printf("reverse %s\n", reverse);
  if (status != 0) {
    /* Without the shim (or its session): only what needs no cluster. */
    struct addrinfo* none = NULL;
    printf("invalid %d\n", getaddrinfo("example.invalid", "80", &hints, &none));
    return 0;
  }

  /* Blocking connect; getpeername is the cluster address. */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (status == 0 && connect(fd, found->ai_addr, found->ai_addrlen) == 0) {
    struct sockaddr_in peer;
    socklen_t length = sizeof(peer);
    getpeername(fd, (struct sockaddr*)&peer, &length);
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &peer.sin_addr, text, sizeof(text));
    printf("peer %s:%d\n", text, ntohs(peer.sin_port));
  } else {
    printf("peer failed %s\n", strerror(errno));
  }
  close(fd);
  printf("fetch %d\n", fetch("/blocking"));

  /* 200 non-blocking connects from one epoll loop: all complete, none waits for another. */
  enum { COUNT = 200 };
  int fds[COUNT], inprogress = 0, connected = 0;
  int poller = epoll_create1(0);
  double start = now_ms();
  for (int i = 0; i < COUNT; ++i) {
    fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int rc = connect(fds[i], found->ai_addr, found->ai_addrlen);
    if (rc == 0 || errno == EINPROGRESS) inprogress++;
    struct epoll_event event = {.events = EPOLLOUT, .data.fd = fds[i]};
    epoll_ctl(poller, EPOLL_CTL_ADD, fds[i], &event);
  }
  double issued = now_ms() - start;
  while (connected < COUNT) {
    struct epoll_event events[64];
    int n = epoll_wait(poller, events, 64, 20000);
    if (n <= 0) break;
    for (int i = 0; i < n; ++i) {
      int error = 0;
      socklen_t length = sizeof(error);
      getsockopt(events[i].data.fd, SOL_SOCKET, SO_ERROR, &error, &length);
      if (error == 0) connected++;
      epoll_ctl(poller, EPOLL_CTL_DEL, events[i].data.fd, NULL);
    }
  }
  double completed = now_ms() - start;
  int answered = 0;
  for (int i = 0; i < COUNT; ++i) {
    int flags = fcntl(fds[i], F_GETFL);
    fcntl(fds[i], F_SETFL, flags & ~O_NONBLOCK);
    const char request[] = "GET /nonblocking HTTP/1.0\r\n\r\n";
    char answer[16] = {0};
    if (write(fds[i], request, sizeof(request) - 1) > 0 && read(fds[i], answer, 12) == 12 &&
        strncmp(answer, "HTTP/1.", 7) == 0)
      answered++;
    close(fds[i]);
  }
  printf("nonblocking %d %d %d %.1f %.1f\n", inprogress, connected, answered, issued, completed);

  /* 200 threads resolving and connecting at once. */
  pthread_t threads[COUNT];
  int ok = 0;
  for (int i = 0; i < COUNT; ++i) pthread_create(&threads[i], NULL, thread_fetch, NULL);
  for (int i = 0; i < COUNT; ++i) {
    void* result;
    pthread_join(threads[i], &result);
    ok += (int)(long)result;
  }
  printf("threads %d resolve=%d connect=%d answer=%d\n", ok, failed_resolve, failed_connect, failed_answer);

  /* A forked child, and a posix_spawn'd shell running curl without proxy variables. */
  pid_t child = fork();
  if (child == 0) _exit(fetch("/forked") ? 0 : 1);
  int childStatus = 0;
  waitpid(child, &childStatus, 0);
  printf("fork %d\n", WIFEXITED(childStatus) && WEXITSTATUS(childStatus) == 0);
  char command[256];
  snprintf(command, sizeof(command),
           "curl -sS --max-time 20 --noproxy '*' http://%s:%s/spawned | grep -q '\"service\": \"%s\"'",
           service, port, service);
  char* spawnArgv[] = {"sh", "-c", command, NULL};
  pid_t spawned;
  int spawnStatus = -1;
  if (posix_spawnp(&spawned, "sh", NULL, NULL, spawnArgv, environ) == 0) waitpid(spawned, &spawnStatus, 0);
  printf("spawn %d\n", WIFEXITED(spawnStatus) && WEXITSTATUS(spawnStatus) == 0);

  /* A name nobody has, and a closed port: an answer, not a hang. */
  struct addrinfo* none = NULL;
  printf("nxdomain %d\n", getaddrinfo("no-such-service.svc", "80", &hints, &none));
  printf("invalid %d\n", getaddrinfo("example.invalid", "80", &hints, &none));
  struct sockaddr_in closed = *(struct sockaddr_in*)found->ai_addr;
  closed.sin_port = htons(81);
  fd = socket(AF_INET, SOCK_STREAM, 0);
  int rc = connect(fd, (struct sockaddr*)&closed, sizeof(closed));
  printf("closed_port_blocking connect=%d errno=%s\n", rc, rc < 0 ? strerrorname_np(errno) : "none");
  close(fd);
  /* Non-blocking: connect returns at once, and the refusal arrives as a reset on the first read. */
  fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  rc = connect(fd, (struct sockaddr*)&closed, sizeof(closed));
  int connectErrno = errno;
  int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  char byte;
  ssize_t got = read(fd, &byte, 1);
  printf("closed_port_nonblocking connect=%s read=%zd errno=%s\n",
         rc == 0 ? "0" : strerrorname_np(connectErrno), got, got < 0 ? strerrorname_np(errno) : "none");
  close(fd);

  /* A resolver of its own (c-ares, Go's): UDP questions to the nameserver of resolv.conf, answered as from
   * there. The Service's full name, the short one, and a name nobody has. */
  char fqdn[256];
  snprintf(fqdn, sizeof(fqdn), "%s.%s.svc.cluster.local", service, argc > 3 ? argv[3] : "default");
  raw_dns("udp_dns", service, 0);
  raw_dns("udp_dns_connected", fqdn, 1);

  /* Loopback stays loopback. */
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in local = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t localLength = sizeof(local);
  bind(listener, (struct sockaddr*)&local, sizeof(local));
  listen(listener, 1);
  getsockname(listener, (struct sockaddr*)&local, &localLength);
  fd = socket(AF_INET, SOCK_STREAM, 0);
  int loop = connect(fd, (struct sockaddr*)&local, sizeof(local)) == 0;
  struct sockaddr_in peer;
  socklen_t peerLength = sizeof(peer);
  getpeername(fd, (struct sockaddr*)&peer, &peerLength);
  printf("loopback %d %d\n", loop, ntohs(peer.sin_port) == ntohs(local.sin_port));
  close(fd);
  close(listener);
  freeaddrinfo(found);
  return 0;
}
