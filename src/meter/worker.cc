#include "meter/worker.h"

#include <rte_branch_prediction.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_pause.h>

#include "meter/tsc_clock.h"

namespace poolflow::meter {

namespace {
constexpr uint16_t kBurst = 32;
constexpr uint16_t kPrefetchAhead = 4;
constexpr uint64_t kMicrosecondsPerMs = 1'000;
}  // namespace

/// Collects ended flows and enqueues them to the aggregation ring in bursts.
class Worker::RecordSink {
 public:
  explicit RecordSink(Worker& worker) : worker_(worker) {}

  void operator()(const FlowRecord& record) {
    worker_.stats_.flows_ended[static_cast<size_t>(record.end_reason)].add();
    pending_[count_++] = record;
    if (count_ == kBurst) flush();
  }

  void flush() {
    if (count_ == 0) return;
    unsigned queued = rte_ring_sp_enqueue_burst_elem(worker_.records_, pending_,
                                                     sizeof(FlowRecord), count_, nullptr);
    while (queued < count_ && wait_for_space_) {
      rte_pause();
      queued += rte_ring_sp_enqueue_burst_elem(worker_.records_, pending_ + queued,
                                               sizeof(FlowRecord), count_ - queued, nullptr);
    }
    worker_.stats_.records_queued.add(queued);
    if (unlikely(queued < count_)) worker_.stats_.ring_drops.add(count_ - queued);
    count_ = 0;
  }

  void wait_for_space(bool wait) { wait_for_space_ = wait; }

 private:
  Worker& worker_;
  FlowRecord pending_[kBurst];
  unsigned count_ = 0;
  bool wait_for_space_ = false;
};

Worker::Worker(WorkerConfig config, rte_ring* records, const std::atomic<bool>& stop)
    : config_(std::move(config)), records_(records), stop_(stop), table_(config_.flow_capacity) {}

uint64_t Worker::packet_time_ms(const rte_mbuf* mbuf) const {
  if (timestamp_offset_ < 0 || !(mbuf->ol_flags & timestamp_flag_)) return now_ms_;
  // net_pcap (DPDK 22.11) stores the capture time in microseconds since the epoch.
  return *RTE_MBUF_DYNFIELD(mbuf, timestamp_offset_, const rte_mbuf_timestamp_t*) /
         kMicrosecondsPerMs;
}

bool Worker::replay_complete() const {
  uint64_t read = 0;
  for (const RxQueue& queue : config_.queues) {
    rte_eth_stats stats{};
    if (rte_eth_stats_get(queue.port, &stats) == 0)
      read += stats.ipackets + stats.ierrors + stats.rx_nombuf;
  }
  return read >= config_.replay_packets;
}

void Worker::poll_queue(const RxQueue& queue, RecordSink& sink) {
  rte_mbuf* packets[kBurst];
  const uint16_t received = rte_eth_rx_burst(queue.port, queue.queue, packets, kBurst);
  if (received == 0) return;

  for (uint16_t i = 0; i < received && i < kPrefetchAhead; ++i)
    rte_prefetch0(rte_pktmbuf_mtod(packets[i], void*));

  uint64_t frame_octets = 0;
  uint64_t parsed_count = 0;
  for (uint16_t i = 0; i < received; ++i) {
    if (i + kPrefetchAhead < received)
      rte_prefetch0(rte_pktmbuf_mtod(packets[i + kPrefetchAhead], void*));
    const rte_mbuf* mbuf = packets[i];
    frame_octets += mbuf->pkt_len;

    ParsedPacket parsed;
    parsed.key.ingress_port = queue.port;
    IgnoreReason why;
    if (unlikely(!parse_packet(rte_pktmbuf_mtod(mbuf, const uint8_t*), mbuf->data_len,
                               mbuf->pkt_len, parsed, why))) {
      stats_.ignored[static_cast<size_t>(why)].add();
      continue;
    }
    ++parsed_count;
    if (config_.replay) now_ms_ = std::max(now_ms_, packet_time_ms(mbuf));
    const auto result =
        table_.account(parsed, FlowTable::hash(parsed.key), now_ms_, config_.timeouts, sink);
    if (result != FlowTable::Accounted::updated) stats_.flows_created.add();
  }
  stats_.rx_packets.add(received);
  stats_.rx_octets.add(frame_octets);
  stats_.parsed_packets.add(parsed_count);
  rte_pktmbuf_free_bulk(packets, received);
}

int Worker::run() {
  timestamp_offset_ = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, nullptr);
  const int flag_bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, nullptr);
  timestamp_flag_ = flag_bit < 0 ? 0 : RTE_BIT64(flag_bit);

  const TscClock clock;
  // On replay the first packet sets the flow clock.
  now_ms_ = config_.replay ? 0 : clock.now_ms();
  RecordSink sink(*this);
  while (!stop_.load(std::memory_order_relaxed)) {
    const uint64_t before = stats_.rx_packets.get();
    for (const RxQueue& queue : config_.queues) poll_queue(queue, sink);
    if (!config_.replay) now_ms_ = clock.now_ms();
    table_.expire_slice(now_ms_, config_.expiry_slots_per_poll, config_.timeouts, sink);
    sink.flush();
    active_flows_.store(table_.size(), std::memory_order_relaxed);
    if (config_.replay && stats_.rx_packets.get() == before && replay_complete()) break;
  }

  // Shutdown is not the fast path: wait for ring space so no flow is lost.
  sink.wait_for_space(true);
  table_.flush_all(FlowEndReason::forced_end, sink);
  sink.flush();
  active_flows_.store(0, std::memory_order_relaxed);
  finished_.store(true, std::memory_order_release);
  return 0;
}

}  // namespace poolflow::meter
