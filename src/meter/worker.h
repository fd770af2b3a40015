// A metering worker: one lcore that polls its RX queues, parses packets into
// its own flow table and hands ended flows to the aggregation thread through
// an SPSC ring of FlowRecords.
#pragma once

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

#include "meter/flow_table.h"
#include "meter/packet_parser.h"
#include "poolflow/counter.h"

namespace poolflow::meter {

struct RxQueue {
  uint16_t port = 0;
  uint16_t queue = 0;
};

/// Counters of one worker: written by the worker only, read by any thread.
struct alignas(64) WorkerStats {
  RelaxedCounter rx_packets;
  RelaxedCounter rx_octets;  ///< frame bytes as received
  RelaxedCounter parsed_packets;
  std::array<RelaxedCounter, static_cast<size_t>(IgnoreReason::count_)> ignored;
  RelaxedCounter flows_created;
  std::array<RelaxedCounter, 6> flows_ended;  ///< indexed by FlowEndReason
  RelaxedCounter records_queued;              ///< handed to the aggregation ring
  RelaxedCounter ring_drops;                  ///< records lost to a full ring
};

struct WorkerConfig {
  unsigned id = 0;
  std::vector<RxQueue> queues;
  uint32_t flow_capacity = 1 << 20;
  FlowTimeouts timeouts;
  uint32_t expiry_slots_per_poll = 64;
  /// Replay of a capture: flow time comes from packet timestamps, a full ring is
  /// waited on rather than dropped (the file cannot overrun), and the worker
  /// ends once `replay_packets` packets have been read from its queues.
  bool replay = false;
  uint64_t replay_packets = 0;
};

class Worker {
 public:
  Worker(WorkerConfig config, rte_ring* records, const std::atomic<bool>& stop);

  /// The lcore entry point: polls until stopped (or the replay ends), then ends
  /// every flow (forced end) and returns 0.
  int run();

  const WorkerStats& stats() const { return stats_; }
  const WorkerConfig& config() const { return config_; }
  uint32_t active_flows() const { return active_flows_.load(std::memory_order_relaxed); }
  bool finished() const { return finished_.load(std::memory_order_acquire); }

 private:
  class RecordSink;
  void poll_queue(const RxQueue& queue, RecordSink& sink);
  bool replay_complete() const;
  uint64_t packet_time_ms(const rte_mbuf* mbuf) const;

  WorkerConfig config_;
  rte_ring* records_;
  const std::atomic<bool>& stop_;
  FlowTable table_;
  WorkerStats stats_;
  std::atomic<uint32_t> active_flows_{0};
  std::atomic<bool> finished_{false};
  uint64_t now_ms_ = 0;  ///< flow time: latest packet time on replay, the TSC clock otherwise
  int timestamp_offset_ = -1;
  uint64_t timestamp_flag_ = 0;
};

}  // namespace poolflow::meter
