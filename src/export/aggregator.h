// The aggregation thread: drains the workers' record rings and turns the records
// into IPFIX messages on every exporter. It never blocks a worker (the
// rings are SPSC, read here only) and sleeps briefly when there is nothing to do.
#pragma once

#include <rte_ring.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "export/exporter.h"
#include "poolflow/counter.h"

namespace poolflow::exporter {

struct AggregatorConfig {
  uint32_t flush_interval_ms = 1000;  ///< a partly filled message waits at most this long
};

/// How a group's records are shared: a hash of the flow key picks one of
/// kSlots slots, and the slot names the member. The control core rewrites it
/// (when members come and go, or by the pool's weights); the aggregation thread
/// reads it. Relaxed atomics: a record may go by the old or the new table.
struct ShareTable {
  static constexpr size_t kSlots = 256;
  std::array<std::atomic<uint8_t>, kSlots> member{};

  /// Slots in proportion to `weights` (largest remainder), in one block per
  /// member; all zero weights: equal shares.
  void assign(std::span<const uint64_t> weights);
};

/// Consecutive exporters that share one output's records: each record goes to
/// exactly one of them, chosen by a hash of its flow key, so that a flow's
/// records (active timeouts, both directions' keys aside) stay at one collector
/// while the shares stand. A pool output with pool.sessions = N is a group of N;
/// a fixed output, of one.
struct ExporterGroup {
  size_t first = 0;
  size_t count = 1;
  std::shared_ptr<ShareTable> shares;  ///< count > 1; equal shares at first
};

class Aggregator {
 public:
  /// Runs until `stop` is set and every ring is empty. Without `groups`, every
  /// exporter gets every record.
  Aggregator(AggregatorConfig config, std::vector<rte_ring*> rings,
             std::vector<std::unique_ptr<Exporter>> exporters, const std::atomic<bool>& stop,
             std::vector<ExporterGroup> groups = {});

  /// The lcore entry point.
  int run();

  uint64_t records_received() const { return records_received_.get(); }
  /// True once run() has closed every exporter and is about to return.
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  const std::vector<std::unique_ptr<Exporter>>& exporters() const { return exporters_; }

 private:
  size_t drain_rings(uint32_t now_s);
  void flush_exporters(uint32_t now_s);

  AggregatorConfig config_;
  std::vector<rte_ring*> rings_;
  std::vector<std::unique_ptr<Exporter>> exporters_;
  std::vector<ExporterGroup> groups_;
  const std::atomic<bool>& stop_;
  RelaxedCounter records_received_;
  std::atomic<bool> finished_{false};
};

}  // namespace poolflow::exporter
