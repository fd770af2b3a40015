// Wall-clock milliseconds from the TSC: one clock_gettime at start, then rdtsc.
#pragma once

#include <rte_cycles.h>

#include <chrono>
#include <cstdint>

namespace poolflow::meter {

class TscClock {
 public:
  TscClock()
      : base_ms_(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count())),
        base_tsc_(rte_rdtsc()),
        tsc_per_ms_(rte_get_tsc_hz() / 1000) {}

  uint64_t now_ms() const { return base_ms_ + (rte_rdtsc() - base_tsc_) / tsc_per_ms_; }

 private:
  uint64_t base_ms_;
  uint64_t base_tsc_;
  uint64_t tsc_per_ms_;
};

}  // namespace poolflow::meter
