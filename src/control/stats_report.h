// Statistics of a running or finished poolflowd, read without locks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "control/control_loop.h"

namespace poolflow::control {

/// Totals over all workers.
struct MeterTotals {
  uint64_t rx_packets = 0;
  uint64_t rx_octets = 0;
  uint64_t parsed_packets = 0;
  std::vector<uint64_t> ignored;  ///< by meter::IgnoreReason
  uint64_t ignored_octets = 0;
  TimeWindow ignored_window;  ///< flow times of the first and last packet the parser ignored
  uint64_t flows_created = 0;
  uint64_t active_flows = 0;
  std::vector<uint64_t> flows_ended;  ///< by FlowEndReason
  uint64_t records_queued = 0;
  uint64_t ring_drops = 0;
  uint64_t expiry_lateness_max_ms = 0;
};

MeterTotals sum_worker_stats(const Pipeline& pipeline);

/// Publishes what the Metering Process observed but did not meter: packets
/// ignored by the parser and packets the ports dropped (their octets are not
/// known: only the ignored packets' frame bytes are counted), and when: the first
/// and the last ignored packet's flow time, as the workers noted it, and for the
/// ports' drops the first and the last read of their counters (every
/// port_stats_interval_ms, or at once with `read_ports_now`) that saw their total
/// grow. Control core only: the one reader of the ports' counters.
void publish_metering_reliability(Pipeline& pipeline, bool read_ports_now = false);

/// One line for the periodic log.
std::string progress_line(const MeterTotals& now, const MeterTotals& before, double seconds);

/// The pool output's part of the periodic log line.
std::string pool_progress(const PoolOutput& pool);

/// The multi-line summary printed at exit; `run_seconds` is how long the workers ran.
std::string exit_summary(const Pipeline& pipeline, double run_seconds);

}  // namespace poolflow::control
