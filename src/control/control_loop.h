// The control core's loop: watches for stop signals and the end of a replay,
// stops the pipeline in order (workers flush, then the aggregation thread
// drains), keeps SCTP outputs connected, and logs progress. ASAP and failover
// join it later.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "control/output_keeper.h"
#include "export/aggregator.h"
#include "meter/worker.h"

namespace poolflow::control {

/// The threads of poolflowd and the flags that stop them.
struct Pipeline {
  std::vector<std::unique_ptr<meter::Worker>> workers;
  std::unique_ptr<exporter::Aggregator> aggregator;
  std::unique_ptr<OutputKeeper> outputs;  ///< may be null
  std::atomic<bool> stop_workers{false};
  std::atomic<bool> stop_aggregator{false};
};

/// Returns once every worker has finished (end of replay, or after a signal
/// arrived in `signal_number`) and the aggregator has drained and closed its
/// sessions; the result is how long the workers ran, in seconds.
double run_control_loop(Pipeline& pipeline, uint32_t stats_interval_s,
                        const std::atomic<int>& signal_number);

}  // namespace poolflow::control
