// RpcBench.cpp - drives a JSON-RPC server over pipes and prints round-trip latency and throughput.
//
// The same client measures `tether serve --stdio` and the vscode-jsonrpc peer, so the two rows differ
// only by the server. Two phases: one request at a time (light load: p50/p99 round trip), then a
// window of requests in flight (messages per second). Prints one table row; never fails a build.
#include <boost/json/parse.hpp>

#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "protocol/jsonrpc/Framing.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Server {
  pid_t pid = -1;
  int toServer = -1;
  int fromServer = -1;
  tether::jsonrpc::ContentLengthDecoder decoder;
};

Server spawn(char** argv) {
  int in[2], out[2];
  if (pipe(in) != 0 || pipe(out) != 0) {
    std::perror("pipe");
    std::exit(2);
  }
  Server server;
  server.pid = fork();
  if (server.pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[1]);
    close(out[0]);
    execvp(argv[0], argv);
    std::perror("exec");
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  server.toServer = in[1];
  server.fromServer = out[0];
  return server;
}

void writeAll(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const auto n = write(fd, data.data() + done, data.size() - done);
    if (n <= 0) {
      std::perror("write");
      std::exit(2);
    }
    done += static_cast<std::size_t>(n);
  }
}

// Reads until one frame arrives and returns its id (-1 for frames without an integer id).
long long readResponse(Server& server) {
  char buffer[65536];
  for (;;) {
    if (auto event = server.decoder.next()) {
      if (!event->isFrame()) continue;
      const auto value = boost::json::parse(event->text);
      const auto* id = value.as_object().if_contains("id");
      if (id == nullptr || !id->is_int64()) continue;  // notifications (logs) are skipped
      return id->as_int64();
    }
    const auto n = read(server.fromServer, buffer, sizeof buffer);
    if (n <= 0) {
      std::fprintf(stderr, "server closed its output\n");
      std::exit(2);
    }
    server.decoder.feed(std::string_view(buffer, static_cast<std::size_t>(n)));
  }
}

std::string request(long long id, const char* method, const char* params) {
  return tether::jsonrpc::encodeFrame("{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(id) + ",\"method\":\"" +
                                      method + "\",\"params\":" + params + "}");
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1));
  return values[index];
}

}  // namespace

int main(int argc, char** argv) {
  std::string label = "server";
  long long requests = 20000;
  long long window = 64;
  int first = 1;
  for (; first < argc; ++first) {
    if (std::strcmp(argv[first], "--") == 0) {
      ++first;
      break;
    }
    if (std::strcmp(argv[first], "--label") == 0 && first + 1 < argc)
      label = argv[++first];
    else if (std::strcmp(argv[first], "--requests") == 0 && first + 1 < argc)
      requests = std::atoll(argv[++first]);
    else if (std::strcmp(argv[first], "--window") == 0 && first + 1 < argc)
      window = std::atoll(argv[++first]);
  }
  if (first >= argc) {
    std::fprintf(stderr, "usage: rpc_bench [--label L] [--requests N] [--window W] -- SERVER ARGS...\n");
    return 2;
  }
  Server server = spawn(argv + first);
  long long nextId = 1;
  writeAll(server.toServer, request(nextId++, "initialize", "{\"processId\":null,\"capabilities\":{}}"));
  readResponse(server);

  // Phase 1: one request at a time.
  std::vector<double> latencies;
  latencies.reserve(static_cast<std::size_t>(requests));
  for (long long i = 0; i < requests; ++i) {
    const auto start = Clock::now();
    writeAll(server.toServer, request(nextId++, "tether/version", "{}"));
    readResponse(server);
    latencies.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }

  // Phase 2: a window of requests in flight.
  const auto start = Clock::now();
  long long sent = 0, received = 0;
  while (received < requests) {
    std::string batch;
    while (sent < requests && sent - received < window) {
      batch += request(nextId++, "tether/version", "{}");
      ++sent;
    }
    if (!batch.empty()) writeAll(server.toServer, batch);
    readResponse(server);
    ++received;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  writeAll(server.toServer, request(nextId++, "shutdown", "null"));
  readResponse(server);
  writeAll(server.toServer, tether::jsonrpc::encodeFrame("{\"jsonrpc\":\"2.0\",\"method\":\"exit\"}"));
  close(server.toServer);
  int status = 0;
  waitpid(server.pid, &status, 0);

  std::printf("%-22s %10.1f %10.1f %14.0f\n", label.c_str(), percentile(latencies, 0.50),
              percentile(latencies, 0.99), static_cast<double>(requests) / seconds);
  return 0;
}
