// The control core's loop: waits on its event queue (registrar associations)
// or its next tick, watches for stop signals and the end of a playback, stops the
// pipeline in order (workers flush, then the aggregation thread drains), keeps
// SCTP outputs connected and the pool output fed with pool elements, and logs
// progress.
#pragma once

#include <atomic>
#include <cstdint>

#include "control/pipeline.h"

namespace poolflow::control {

/// Returns once every worker has finished (end of playback, or after a signal
/// arrived in `signal_number`) and the aggregator has drained and closed its
/// exporters; the result is how long the workers ran, in seconds.
double run_control_loop(Pipeline& pipeline, uint32_t stats_interval_s,
                        const std::atomic<int>& signal_number);

}  // namespace poolflow::control
