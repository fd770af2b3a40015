// Wall-clock milliseconds from the TSC: clock_gettime now and then (once a
// second), rdtsc in between. Never goes backwards, so a step of the system
// clock (NTP) cannot make flows look older or younger than they are.
#pragma once

#include <rte_cycles.h>

#include <algorithm>
#include <cstdint>

#include "poolflow/clock.h"

namespace poolflow::meter {

class TscClock {
 public:
  TscClock() : tsc_per_ms_(rte_get_tsc_hz() / 1000) { resync(); }

  uint64_t now_ms() {
    if (rte_rdtsc() - base_tsc_ >= kResyncMs * tsc_per_ms_) resync();
    last_ms_ = std::max(last_ms_, base_ms_ + (rte_rdtsc() - base_tsc_) / tsc_per_ms_);
    return last_ms_;
  }

 private:
  static constexpr uint64_t kResyncMs = 1000;

  // Rebases on the system clock, so that the TSC's drift (tens of ppm) does not
  // accumulate over a long run.
  void resync() {
    base_ms_ = unix_ms();
    base_tsc_ = rte_rdtsc();
  }

  uint64_t tsc_per_ms_;
  uint64_t base_ms_ = 0;
  uint64_t base_tsc_ = 0;
  uint64_t last_ms_ = 0;
};

}  // namespace poolflow::meter
