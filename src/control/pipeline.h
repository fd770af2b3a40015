// The threads of poolflowd and what the control core keeps beside them: the
// workers, the aggregation thread and its export sessions, the outputs the
// control core keeps connected (fixed SCTP outputs, the collector pool), and
// the queue through which usrsctp's threads tell it of its associations.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "control/output_keeper.h"
#include "control/pool_output.h"
#include "export/aggregator.h"
#include "meter/worker.h"
#include "poolflow/clock.h"
#include "transport/sctp/sctp_messages.h"

namespace poolflow::control {

/// When the ports dropped packets, as far as their counters tell: the wall-clock
/// times (ms since the epoch) at which their total was first and last seen to
/// grow. Kept by metering_reliability() (stats_report.h), any thread.
struct PortDropWindow {
  std::mutex mutex;
  uint64_t seen = 0;  ///< dropped packets at the last look
  TimeWindow window;
};

struct Pipeline {
  std::vector<std::unique_ptr<meter::Worker>> workers;
  std::unique_ptr<exporter::Aggregator> aggregator;
  std::unique_ptr<OutputKeeper> outputs;  ///< may be null
  /// Events of the control core's own associations (the registrar's).
  transport::SctpEventQueue events;
  std::unique_ptr<PoolOutput> pool;  ///< null without a pool:HANDLE output
  std::vector<uint16_t> port_ids;    ///< the DPDK ports the workers read
  PortDropWindow port_drop_window;
  std::atomic<bool> stop_workers{false};
  std::atomic<bool> stop_aggregator{false};
};

}  // namespace poolflow::control
