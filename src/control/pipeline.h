// The threads of poolflowd and what the control core keeps beside them: the
// workers, the aggregation thread and its exporters, the outputs the
// control core keeps connected (fixed SCTP outputs, the collector pool), and
// the queue through which usrsctp's threads tell it of its associations.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "control/output_keeper.h"
#include "control/pool_output.h"
#include "export/aggregator.h"
#include "meter/worker.h"
#include "poolflow/clock.h"
#include "transport/sctp/sctp_messages.h"

namespace poolflow::control {

/// What the ports dropped, as far as their counters tell, and when: the
/// wall-clock times (ms since the epoch) at which their total was first and last
/// seen to grow. The control core's alone (publish_metering_reliability()).
struct PortDrops {
  uint64_t missed = 0;  ///< imissed + ierrors
  uint64_t no_mbuf = 0;
  TimeWindow window;
  uint64_t next_read_ms = 0;
};

struct Pipeline {
  /// Events of the associations the control core opened (registrars, pool
  /// elements, fixed SCTP outputs). Declared first: destroyed after every
  /// transport that may still tell it something.
  transport::SctpEventQueue events;
  std::vector<std::unique_ptr<meter::Worker>> workers;
  std::unique_ptr<exporter::Aggregator> aggregator;
  std::unique_ptr<OutputKeeper> outputs;  ///< may be null
  std::unique_ptr<PoolOutput> pool;       ///< null without a pool:HANDLE output
  std::vector<uint16_t> port_ids;         ///< the DPDK ports the workers read
  uint32_t port_stats_interval_ms = 1000;
  PortDrops port_drops;
  /// Published by the control core for the statistics records of the exporters.
  std::shared_ptr<exporter::MeteringSnapshot> metering =
      std::make_shared<exporter::MeteringSnapshot>();
  std::atomic<bool> stop_workers{false};
  std::atomic<bool> stop_aggregator{false};
};

}  // namespace poolflow::control
