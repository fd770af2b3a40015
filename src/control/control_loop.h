// The control core's loop: watches for stop signals and the end of a replay,
// stops the pipeline in order (workers flush, then the aggregation thread
// drains), keeps SCTP outputs connected, and logs progress. ASAP and failover
// join it later.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "control/output_keeper.h"
#include "export/aggregator.h"
#include "meter/worker.h"
#include "poolflow/clock.h"

namespace poolflow::control {

/// When the ports dropped packets, as far as their counters tell: the wall-clock
/// times (ms since the epoch) at which their total was first and last seen to
/// grow. Kept by metering_reliability() (stats_report.h), any thread.
struct PortDropWindow {
  std::mutex mutex;
  uint64_t seen = 0;  ///< dropped packets at the last look
  TimeWindow window;
};

/// The threads of poolflowd and the flags that stop them.
struct Pipeline {
  std::vector<std::unique_ptr<meter::Worker>> workers;
  std::unique_ptr<exporter::Aggregator> aggregator;
  std::unique_ptr<OutputKeeper> outputs;  ///< may be null
  std::vector<uint16_t> port_ids;         ///< the DPDK ports the workers read
  PortDropWindow port_drop_window;
  std::atomic<bool> stop_workers{false};
  std::atomic<bool> stop_aggregator{false};
};

/// Returns once every worker has finished (end of replay, or after a signal
/// arrived in `signal_number`) and the aggregator has drained and closed its
/// sessions; the result is how long the workers ran, in seconds.
double run_control_loop(Pipeline& pipeline, uint32_t stats_interval_s,
                        const std::atomic<int>& signal_number);

}  // namespace poolflow::control
