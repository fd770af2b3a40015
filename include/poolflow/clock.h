// Times of the two clocks the threads use: the system clock (since the epoch,
// in ms: times exported in records) and the steady clock (intervals, timeouts).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace poolflow {

inline uint64_t unix_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

inline uint64_t steady_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

inline uint64_t steady_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

/// When something happened first and last (ms since the epoch); both 0 while
/// it never did, as the reliability options records report it.
struct TimeWindow {
  uint64_t first_ms = 0;
  uint64_t last_ms = 0;

  void note(uint64_t now_ms) {
    last_ms = now_ms;
    if (first_ms == 0) first_ms = now_ms;
  }
  /// Widens this window to cover `other` as well.
  void merge(const TimeWindow& other) {
    if (other.first_ms == 0) return;
    first_ms = first_ms == 0 ? other.first_ms : std::min(first_ms, other.first_ms);
    last_ms = std::max({last_ms, other.last_ms, first_ms});
  }
};

}  // namespace poolflow
