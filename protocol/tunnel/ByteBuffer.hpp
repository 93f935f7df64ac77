// ByteBuffer.hpp - a growable byte buffer whose growth does not initialise the new bytes.
//
// The mux's output queue uses it so that a socket read can land directly behind a DATA header: a
// std::string would zero-fill the room on resize(), a memset as costly as the copy it replaces.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>

namespace tether::tunnel {

class ByteBuffer {
 public:
  ByteBuffer() = default;
  ByteBuffer(ByteBuffer&& other) noexcept { swap(other); }
  ByteBuffer& operator=(ByteBuffer&& other) noexcept {
    ByteBuffer(std::move(other)).swap(*this);
    return *this;
  }
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;

  const char* data() const { return data_.get(); }
  char* data() { return data_.get(); }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }
  std::string_view view() const { return {data_.get(), size_}; }

  // Keeps the capacity, so a buffer that is swapped back and forth stops allocating once it is warm.
  void clear() { size_ = 0; }
  // Grows by `n` uninitialised bytes and returns the first; earlier pointers into the buffer may dangle.
  // The capacity at least doubles when it must grow, so appends are amortised O(1).
  char* extend(std::size_t n) {
    if (size_ + n > capacity_) reserve(std::max(size_ + n, capacity_ * 2));
    char* at = data_.get() + size_;
    size_ += n;
    return at;
  }
  // Drops bytes at the end; `newSize` larger than size() is ignored.
  void truncate(std::size_t newSize) { size_ = std::min(size_, newSize); }
  void append(std::string_view bytes) {
    if (!bytes.empty()) std::memcpy(extend(bytes.size()), bytes.data(), bytes.size());
  }
  void push_back(char c) { *extend(1) = c; }
  // Makes the capacity exactly `n` when it is smaller, so a caller can hold a buffer to a bound of its own.
  void reserve(std::size_t n) {
    if (n <= capacity_) return;
    auto bigger = std::make_unique_for_overwrite<char[]>(n);
    if (size_ > 0) std::memcpy(bigger.get(), data_.get(), size_);
    data_ = std::move(bigger);
    capacity_ = n;
  }
  void swap(ByteBuffer& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(capacity_, other.capacity_);
  }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace tether::tunnel
