// A statistics counter with one writer thread and any number of lock-free readers.
#pragma once

#include <atomic>
#include <cstdint>

namespace poolflow {

/// Incremented by its single owner thread with a plain load and store (no locked
/// read-modify-write on the fast path); other threads read it at any time.
class RelaxedCounter {
 public:
  void add(uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  /// Keeps the largest value seen (a high-water mark).
  void raise_to(uint64_t candidate) {
    if (candidate > value_.load(std::memory_order_relaxed))
      value_.store(candidate, std::memory_order_relaxed);
  }
  uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

}  // namespace poolflow
