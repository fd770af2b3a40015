#include "export/aggregator.h"

#include <rte_hash_crc.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "poolflow/clock.h"

namespace poolflow::exporter {

namespace {
constexpr unsigned kDequeueBurst = 64;
constexpr auto kIdleSleep = std::chrono::microseconds(200);

uint32_t unix_seconds() {
  return static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}
}  // namespace

Aggregator::Aggregator(AggregatorConfig config, std::vector<rte_ring*> rings,
                       std::vector<std::unique_ptr<Exporter>> exporters,
                       const std::atomic<bool>& stop, std::vector<ExporterGroup> groups)
    : config_(config),
      rings_(std::move(rings)),
      exporters_(std::move(exporters)),
      groups_(std::move(groups)),
      stop_(stop) {
  if (groups_.empty())
    for (size_t i = 0; i < exporters_.size(); ++i) groups_.push_back({i, 1, nullptr});
  for (ExporterGroup& group : groups_)
    if (group.count > 1 && !group.shares) {
      group.shares = std::make_shared<ShareTable>();
      group.shares->assign(std::vector<uint64_t>(group.count, 0));
    }
}

void ShareTable::assign(std::span<const uint64_t> weights) {
  if (weights.empty() || weights.size() > 256) return;  // a group has 1..64 members
  std::vector<uint64_t> w(weights.begin(), weights.end());
  unsigned __int128 total = 0;
  for (const uint64_t x : w) total += x;
  if (total == 0) {
    std::fill(w.begin(), w.end(), 1);
    total = w.size();
  }
  std::vector<size_t> slots(w.size());
  std::vector<std::pair<unsigned __int128, size_t>> remainders;
  size_t given = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    const unsigned __int128 exact = static_cast<unsigned __int128>(w[i]) * kSlots;
    slots[i] = static_cast<size_t>(exact / total);
    given += slots[i];
    remainders.push_back({exact % total, i});
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t k = 0; given < kSlots; ++k, ++given) ++slots[remainders[k % w.size()].second];
  size_t slot = 0;
  for (size_t i = 0; i < w.size(); ++i)
    for (size_t n = 0; n < slots[i]; ++n)
      member[slot++].store(static_cast<uint8_t>(i), std::memory_order_relaxed);
}

size_t Aggregator::drain_rings(uint32_t now_s) {
  FlowRecord records[kDequeueBurst];
  size_t total = 0;
  for (rte_ring* ring : rings_) {
    const unsigned count =
        rte_ring_sc_dequeue_burst_elem(ring, records, sizeof(FlowRecord), kDequeueBurst, nullptr);
    for (unsigned i = 0; i < count; ++i)
      for (const ExporterGroup& group : groups_) {
        size_t member = group.first;
        if (group.count > 1)
          member +=
              group.shares
                  ->member[rte_hash_crc(&records[i].key, sizeof(FlowKey), 0) % ShareTable::kSlots]
                  .load(std::memory_order_relaxed);
        exporters_[member]->add(records[i], now_s);
      }
    total += count;
  }
  records_received_.add(total);
  return total;
}

void Aggregator::flush_exporters(uint32_t now_s) {
  for (auto& exporter : exporters_) exporter->flush(now_s);
}

int Aggregator::run() {
  uint64_t last_flush_ms = steady_ms();
  for (;;) {
    // Read the flag before draining: once it is set every worker has finished,
    // so rings found empty after it stay empty.
    const bool stopping = stop_.load(std::memory_order_acquire);
    const uint32_t now_s = unix_seconds();
    const size_t drained = drain_rings(now_s);
    const uint64_t now_ms = steady_ms();
    if (now_ms - last_flush_ms >= config_.flush_interval_ms) {
      flush_exporters(now_s);
      last_flush_ms = now_ms;
    }
    if (drained == 0) {
      if (stopping) break;
      // Nothing new: a good moment for messages the transport refused earlier.
      for (auto& exporter : exporters_) exporter->send_queued(now_s);
      std::this_thread::sleep_for(kIdleSleep);
    }
  }
  // One deadline for all: exporters closed one after the other wait together.
  uint32_t timeout_ms = 0;
  for (const auto& exporter : exporters_)
    timeout_ms = std::max(timeout_ms, exporter->close_timeout_ms());
  const uint64_t deadline = steady_ms() + timeout_ms;
  for (auto& exporter : exporters_) exporter->close(unix_seconds(), deadline);
  finished_.store(true, std::memory_order_release);
  return 0;
}

}  // namespace poolflow::exporter
