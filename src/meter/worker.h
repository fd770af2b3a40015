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

namespace poolflow::net {
class PcapPlayer;
}

namespace poolflow::meter {

inline constexpr uint16_t kBurstSize = 32;

/// What a worker polls: an RX queue of a port, or a capture played back as one.
struct RxQueue {
  uint16_t port = 0;  ///< the port id, or the playback's (its index among the captures)
  uint16_t queue = 0;
  net::PcapPlayer* player = nullptr;
};

/// Counters of one worker: written by the worker only, read by any thread.
struct alignas(64) WorkerStats {
  RelaxedCounter rx_packets;
  RelaxedCounter rx_octets;  ///< frame bytes as received
  RelaxedCounter parsed_packets;
  std::array<RelaxedCounter, static_cast<size_t>(IgnoreReason::count_)> ignored;
  RelaxedCounter ignored_octets;  ///< frame bytes of the ignored packets
  /// Flow time (ms since the epoch) of the first and the last ignored packet, 0
  /// while none: on playback their capture time.
  RelaxedCounter first_ignored_ms;
  RelaxedCounter last_ignored_ms;
  RelaxedCounter flows_created;
  std::array<RelaxedCounter, 6> flows_ended;  ///< indexed by FlowEndReason
  RelaxedCounter records_queued;              ///< handed to the aggregation ring
  RelaxedCounter ring_drops;                  ///< records lost to a full ring
  /// Largest delay between a flow's idle or active timeout and its export.
  RelaxedCounter expiry_lateness_max_ms;
};

struct WorkerConfig {
  unsigned id = 0;
  std::vector<RxQueue> queues;
  uint32_t flow_capacity = 1 << 20;
  bool biflow = false;  ///< RFC 5103 biflows: both directions of a connection in one record
  FlowTimeouts timeouts;
  /// Fewest slots the expiry scan checks per poll (it checks more when flow time
  /// demands, see expiry_sweep_ms): each bucket line it reads competes with the
  /// lookups' for the core's outstanding cache misses.
  uint32_t expiry_slots_per_poll = 8;
  /// The expiry scan covers the whole table at least this often (flow time), so
  /// that no flow is exported much later than its timeout.
  uint32_t expiry_sweep_ms = 500;
  /// Playback of captures: flow time comes from packet timestamps, a full ring is
  /// waited on rather than dropped (a file cannot overrun), and the worker ends
  /// once every playback has delivered its capture's packets.
  bool playback = false;
};

class Worker {
 public:
  Worker(WorkerConfig config, rte_ring* records, const std::atomic<bool>& stop);

  /// The lcore entry point: polls until stopped (or the playback ends), then ends
  /// every flow (forced end) and returns 0.
  int run();

  /// Commits the flow table's memory from the calling thread, on its NUMA node.
  /// run() does it first, on the worker's lcore; a benchmark that calls
  /// meter_burst() itself calls it from its metering thread.
  void commit_table() { table_.commit_memory(); }
  /// Meters a burst of at most kBurstSize packets received on `port` (the
  /// caller keeps ownership of the mbufs). Used by run() and by benchmarks.
  void meter_burst(uint16_t port, rte_mbuf* const* packets, uint16_t count);
  /// One expiry step at the current flow time, then hands ended flows over.
  void expire_step();
  /// Moves flow time (ms since the epoch) forward to `now_ms`; never back. When
  /// that is more than an hour past the last expiry step (a sparse or gapped
  /// capture, a suspended host), first ends the flows due before the move, and
  /// all of them when the move itself is longer than an hour, so that no flow
  /// outlives what the flow table's times can span. It waits for ring room
  /// meanwhile (after a suspended host, the NIC drops packets, not records).
  void advance_clock(uint64_t now_ms);

  const WorkerStats& stats() const { return stats_; }
  const WorkerConfig& config() const { return config_; }
  const FlowTable& table() const { return table_; }
  uint32_t active_flows() const { return active_flows_.load(std::memory_order_relaxed); }
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  /// CPU time the worker's thread used, once finished(): on playback a worker
  /// sleeps while the aggregation thread catches up, so its run time is not it.
  double cpu_seconds() const { return static_cast<double>(cpu_ns_.load()) / 1e9; }

 private:
  // Collects ended flows and enqueues them to the aggregation ring in bursts.
  class RecordSink {
   public:
    explicit RecordSink(Worker& worker) : worker_(worker) {}
    void operator()(const FlowRecord& record);
    void flush();
    void wait_for_space(bool wait) { wait_for_space_ = wait; }

   private:
    static constexpr unsigned kFirstSleepUs = 10;
    static constexpr unsigned kMaxSleepUs = 1000;

    void wait_for_room();

    Worker& worker_;
    FlowRecord pending_[kBurstSize];
    unsigned count_ = 0;
    bool wait_for_space_ = false;
  };

  void poll_queue(const RxQueue& queue);
  bool playback_complete() const;
  uint64_t packet_time_ms(const rte_mbuf* mbuf) const;
  void note_lateness(const FlowRecord& record);

  WorkerConfig config_;
  rte_ring* records_;
  const std::atomic<bool>& stop_;
  FlowTable table_;
  RecordSink sink_{*this};
  // meter_burst()'s working arrays: members, so that no call initialises them.
  struct Burst {
    ParsedPacket parsed[kBurstSize];
    FlowTable::Probe probes[kBurstSize];
    uint64_t times[kBurstSize];  ///< packet times (playback only)
  } burst_;
  WorkerStats stats_;
  std::atomic<uint32_t> active_flows_{0};
  std::atomic<bool> finished_{false};
  std::atomic<uint64_t> cpu_ns_{0};
  uint64_t now_ms_ = 0;  ///< flow time: latest packet time on playback, the TSC clock otherwise
  uint64_t last_expiry_ms_ = 0;
  bool clock_started_ = false;  ///< on playback, by the first packet
  int timestamp_offset_ = -1;
  uint64_t timestamp_flag_ = 0;
};

}  // namespace poolflow::meter
