// IoThreads.cpp - see IoThreads.hpp.
#include "support/exec/IoThreads.hpp"

#include <exception>

namespace tether::support {

IoThreads::IoThreads(std::size_t count, std::function<void(const std::string&)> onError) {
  if (count == 0) count = 1;
  for (std::size_t i = 0; i < count; ++i) {
    auto lane = std::make_unique<Lane>();
    lane->thread = std::thread([io = &lane->io, onError] {
      for (;;) {
        try {
          io->run();
          return;  // stopped, or out of work after the guard was reset
        } catch (const std::exception& error) {
          if (onError) onError(error.what());
        }
      }
    });
    lanes_.push_back(std::move(lane));
  }
}

IoThreads::~IoThreads() {
  for (auto& lane : lanes_) {
    lane->work.reset();
    lane->io.stop();
  }
  for (auto& lane : lanes_) {
    if (lane->thread.joinable()) lane->thread.join();
  }
}

boost::asio::io_context& IoThreads::next() {
  return lanes_[turn_.fetch_add(1, std::memory_order_relaxed) % lanes_.size()]->io;
}

}  // namespace tether::support
