// IoThreads.hpp - a fixed number of single-threaded io_contexts, each run by its own thread, handed out
// in turn. Owners that were written for a single-threaded io_context (sockets, timers and coroutines that
// never lock) keep that guarantee, and a thousand owners share a few threads.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace tether::support {

class IoThreads {
 public:
  // `onError` hears a handler's exception; the thread goes on running its io_context.
  explicit IoThreads(std::size_t count, std::function<void(const std::string&)> onError = {});
  // Stops the io_contexts and joins their threads: owners must have ended their work first.
  ~IoThreads();
  IoThreads(const IoThreads&) = delete;
  IoThreads& operator=(const IoThreads&) = delete;

  // The next io_context in turn.
  boost::asio::io_context& next();
  std::size_t size() const { return lanes_.size(); }

 private:
  struct Lane {
    boost::asio::io_context io{1};
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
    std::thread thread;
  };
  std::vector<std::unique_ptr<Lane>> lanes_;
  std::atomic<std::size_t> turn_{0};
};

}  // namespace tether::support
