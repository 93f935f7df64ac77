// ProbePortForward.cpp - kube_probe's port-forward commands: echo traffic with sha256 on both sides,
// many connections at once, bulk download and set-up latency. Each takes a last, optional argument
// saying how connections are opened: `websocket` (one v4 WebSocket each) or `shared` (one SPDY
// session for all of them, falling back to WebSockets when the server does not speak it).
#include "tests/kube/ProbePortForward.hpp"

#include <openssl/evp.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <iostream>
#include <random>

#include "server/kube/PortForward.hpp"

namespace tether::kube::probe {

namespace json = boost::json;
namespace asio = boost::asio;

namespace {

class Digest {
 public:
  Digest() : context_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(context_, EVP_sha256(), nullptr); }
  ~Digest() { EVP_MD_CTX_free(context_); }
  Digest(const Digest&) = delete;
  Digest& operator=(const Digest&) = delete;
  void update(const char* data, std::size_t n) { EVP_DigestUpdate(context_, data, n); }
  std::string hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(context_, digest, &length);
    static const char* digits = "0123456789abcdef";
    std::string text;
    for (unsigned i = 0; i < length; ++i) {
      text += digits[digest[i] >> 4];
      text += digits[digest[i] & 15];
    }
    return text;
  }

 private:
  EVP_MD_CTX* context_;
};

// Opens forwarded connections the way the command was asked to.
class Forwarder {
 public:
  Forwarder(Client& client, std::string ns, std::string pod, bool shared)
      : client_(client), ns_(std::move(ns)), pod_(std::move(pod)), shared_(shared) {}

  // Opens the shared session (before connections are opened concurrently, which would each open one).
  asio::awaitable<void> prepare() {
    if (shared_ && !session_) session_ = co_await openPortForwardSession(client_, ns_, pod_);
  }
  asio::awaitable<std::unique_ptr<PortForwardStream>> connect(std::uint16_t port) {
    if (!shared_) co_return co_await openPortForward(client_, ns_, pod_, port);
    co_await prepare();
    co_return co_await session_->connect(port);
  }
  bool multiplexed() const { return session_ && session_->multiplexed(); }

 private:
  Client& client_;
  std::string ns_;
  std::string pod_;
  bool shared_;
  std::unique_ptr<PortForwardSession> session_;
};

struct EchoResult {
  std::size_t bytes = 0;
  std::string sent;
  std::string received;
  std::string error;
  double seconds = 0;
};

// Sends `total` pseudo-random bytes (from `seed`) to an echo server and reads them back, concurrently.
asio::awaitable<EchoResult> echo(PortForwardStream& stream, std::size_t total, std::uint64_t seed) {
  EchoResult result;
  Digest sent;
  Digest received;
  const auto start = std::chrono::steady_clock::now();
  auto executor = co_await asio::this_coro::executor;
  // The writer runs beside the reader; echo() returns only after it ended, since it uses `sent`.
  bool writerEnded = false;
  asio::steady_timer writerDone(executor, asio::steady_timer::time_point::max());
  asio::co_spawn(
      executor,
      [&stream, &sent, &writerEnded, &writerDone, total, seed]() -> asio::awaitable<void> {
        std::mt19937_64 random(seed);
        std::string chunk(256 * 1024, '\0');
        try {
          for (std::size_t done = 0; done < total;) {
            const auto n = std::min(chunk.size(), total - done);
            for (std::size_t i = 0; i < n; i += 8) {
              const auto word = random();
              std::memcpy(chunk.data() + i, &word, std::min<std::size_t>(8, n - i));
            }
            sent.update(chunk.data(), n);
            co_await stream.write(asio::buffer(chunk.data(), n));
            done += n;
          }
        } catch (const PortForwardError&) {
          // The reader reports what went wrong.
        }
        writerEnded = true;
        writerDone.cancel();
      },
      asio::detached);
  std::string buffer(256 * 1024, '\0');
  try {
    while (result.bytes < total) {
      const auto n = co_await stream.readSome(asio::buffer(buffer));
      if (n == 0) break;
      received.update(buffer.data(), n);
      result.bytes += n;
    }
  } catch (const PortForwardError& error) {
    result.error = error.what();
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!writerEnded) {
    if (!result.error.empty()) stream.abort();  // a writer blocked on a failed stream ends now
    co_await writerDone.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  result.sent = sent.hex();
  result.received = received.hex();
  co_return result;
}

json::object toJson(const EchoResult& result) {
  if (!result.error.empty()) return json::object{{"error", json::object{{"message", result.error}}}};
  return json::object{{"bytes", result.bytes},
                      {"sent", result.sent},
                      {"received", result.received},
                      {"seconds", result.seconds}};
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[static_cast<std::size_t>(p * static_cast<double>(values.size() - 1))];
}

int run(const std::function<asio::awaitable<int>()>& body) {
  asio::io_context io;
  int code = 0;
  asio::co_spawn(io, body, [&code](std::exception_ptr error, int result) {
    if (error) std::rethrow_exception(error);
    code = result;
  });
  io.run();
  return code;
}

int printError(const PortForwardError& error) {
  std::cout << json::serialize(json::object{{"error", json::object{{"message", error.what()}}}}) << std::endl;
  return 3;
}

}  // namespace

int portForwardCommand(Client& client, const std::vector<std::string>& args) {
  const auto& command = args.at(0);
  if (command != "portforward" && command != "pf-parallel" && command != "pf-mixed" && command != "pf-send" &&
      command != "pf-read" && command != "pf-download" && command != "pf-upload" && command != "pf-setup") {
    return -1;
  }
  const auto& ns = args.at(1);
  const auto& pod = args.at(2);
  const auto port = static_cast<std::uint16_t>(std::stoi(args.at(3)));
  const auto number = std::stoull(args.at(4));
  // The transport is the last argument when it names one.
  const bool shared = args.back() == "shared";
  // Made inside each command's coroutine, so that its session is closed before the io_context runs dry.
  const auto makeForwarder = [&] { return Forwarder(client, ns, pod, shared); };

  if (command == "portforward") {
    // One connection: `number` bytes echoed, hashed both ways.
    return run([&]() -> asio::awaitable<int> {
      auto forwarder = makeForwarder();
      try {
        auto stream = co_await forwarder.connect(port);
        const auto result = co_await echo(*stream, number, 42);
        co_await stream->close();
        auto out = toJson(result);
        out["multiplexed"] = forwarder.multiplexed();
        std::cout << json::serialize(out) << std::endl;
        co_return result.error.empty() ? 0 : 3;
      } catch (const PortForwardError& error) {
        co_return printError(error);
      }
    });
  }
  if (command == "pf-parallel") {
    // `connections` connections at once, each echoing `bytes` of its own; one line per connection.
    const auto bytes = static_cast<std::size_t>(std::stoull(args.at(5)));
    return run([&]() -> asio::awaitable<int> {
      auto forwarder = makeForwarder();
      auto executor = co_await asio::this_coro::executor;
      co_await forwarder.prepare();
      std::vector<EchoResult> results(number);
      std::size_t finished = 0;
      asio::steady_timer allDone(executor, asio::steady_timer::time_point::max());
      for (std::size_t i = 0; i < number; ++i) {
        asio::co_spawn(
            executor,
            [&, i]() -> asio::awaitable<void> {
              try {
                auto stream = co_await forwarder.connect(port);
                results[i] = co_await echo(*stream, bytes, i + 1);
                co_await stream->close();
              } catch (const PortForwardError& error) {
                results[i].error = error.what();
              }
              if (++finished == number) allDone.cancel();
            },
            asio::detached);
      }
      co_await allDone.async_wait(asio::as_tuple(asio::use_awaitable));
      int code = 0;
      for (const auto& result : results) {
        auto out = toJson(result);
        out["multiplexed"] = forwarder.multiplexed();
        std::cout << json::serialize(out) << std::endl;
        if (!result.error.empty()) code = 3;
      }
      co_return code;
    });
  }
  if (command == "pf-mixed") {
    // On one session: a connection to `number` (a port nobody listens on) fails, one to `port` still echoes.
    return run([&]() -> asio::awaitable<int> {
      auto forwarder = makeForwarder();
      auto refused = co_await forwarder.connect(static_cast<std::uint16_t>(number));
      auto good = co_await forwarder.connect(port);
      std::string message;
      try {
        char byte = 0;
        co_await refused->readSome(asio::buffer(&byte, 1));
      } catch (const PortForwardError& error) {
        message = error.what();
      }
      const auto result = co_await echo(*good, 100000, 7);
      co_await good->close();
      std::cout << json::serialize(json::object{{"refused", message},
                                                {"echoed", result.error.empty() && result.bytes == 100000 &&
                                                               result.sent == result.received}})
                << std::endl;
      co_return message.empty() ? 3 : 0;
    });
  }
  if (command == "pf-send") {
    // Writes `number` pseudo-random bytes and closes at once; prints their sha256. What the pod received
    // is asked separately (pf-read), after this process, and so the session, has ended.
    return run([&]() -> asio::awaitable<int> {
      auto forwarder = makeForwarder();
      auto stream = co_await forwarder.connect(port);
      std::mt19937_64 random(9);
      std::string bytes(number, '\0');
      for (auto& byte : bytes) byte = static_cast<char>(random());
      Digest sent;
      sent.update(bytes.data(), bytes.size());
      co_await stream->write(asio::buffer(bytes));
      co_await stream->close();
      std::cout << json::serialize(json::object{{"sent", sent.hex()}}) << std::endl;
      co_return 0;
    });
  }
  if (command == "pf-read") {
    // Reads what the pod sends until it closes (at most `number` bytes) and prints it as text.
    return run([&]() -> asio::awaitable<int> {
      auto forwarder = makeForwarder();
      auto stream = co_await forwarder.connect(port);
      std::string text;
      std::string buffer(4096, '\0');
      while (text.size() < number) {
        const auto n = co_await stream->readSome(asio::buffer(buffer));
        if (n == 0) break;
        text.append(buffer.data(), n);
      }
      co_await stream->close();
      std::cout << json::serialize(json::object{{"text", text}}) << std::endl;
      co_return 0;
    });
  }
  if (command == "pf-download") {
    // Benchmark: `number` bytes from a pod port that sends them, through one connection.
    return run([&]() -> asio::awaitable<int> {
      auto forwarder = makeForwarder();
      const auto start = std::chrono::steady_clock::now();
      auto stream = co_await forwarder.connect(port);
      std::string buffer(1 << 20, '\0');
      std::size_t got = 0;
      while (got < number) {
        const auto n = co_await stream->readSome(asio::buffer(buffer));
        if (n == 0) break;
        got += n;
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      co_await stream->close();
      std::cout << json::serialize(
                       json::object{{"bytes", got}, {"mbps", static_cast<double>(got) / 1e6 / seconds}})
                << std::endl;
      co_return 0;
    });
  }
  if (command == "pf-upload") {
    // Benchmark: `number` bytes to a pod port that reads exactly that many and then answers with a line
    // (so neither side needs a half-close, which v4 WebSockets lack); timed until the answer arrives.
    return run([&]() -> asio::awaitable<int> {
      auto forwarder = makeForwarder();
      const auto start = std::chrono::steady_clock::now();
      auto stream = co_await forwarder.connect(port);
      const std::string chunk(1 << 20, 'u');
      for (std::uint64_t sent = 0; sent < number;) {
        const auto n = std::min<std::uint64_t>(chunk.size(), number - sent);
        co_await stream->write(asio::buffer(chunk.data(), static_cast<std::size_t>(n)));
        sent += n;
      }
      std::string answer;
      std::string buffer(256, '\0');
      while (answer.find('\n') == std::string::npos) {
        const auto n = co_await stream->readSome(asio::buffer(buffer));
        if (n == 0) break;
        answer.append(buffer.data(), n);
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      co_await stream->close();
      std::cout << json::serialize(json::object{{"answer", answer},
                                                {"mbps", static_cast<double>(number) / 1e6 / seconds}})
                << std::endl;
      co_return answer.empty() ? 3 : 0;
    });
  }
  if (command == "pf-setup") {
    // Benchmark: open a connection and read the pod's first byte, `number` times. With `shared`, the
    // session is opened first (as kubectl port-forward does before it accepts connections).
    return run([&]() -> asio::awaitable<int> {
      auto forwarder = makeForwarder();
      std::vector<double> millis;
      char byte = 0;
      co_await forwarder.prepare();  // kubectl, too, connects before it says "Forwarding from"
      for (std::uint64_t i = 0; i < number; ++i) {
        const auto start = std::chrono::steady_clock::now();
        auto stream = co_await forwarder.connect(port);
        co_await stream->readSome(asio::buffer(&byte, 1));
        millis.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
        co_await stream->close();
      }
      std::cout << json::serialize(json::object{{"p50_ms", percentile(millis, 0.5)},
                                                {"p99_ms", percentile(millis, 0.99)},
                                                {"multiplexed", forwarder.multiplexed()}})
                << std::endl;
      co_return 0;
    });
  }
  return -1;
}

}  // namespace tether::kube::probe
