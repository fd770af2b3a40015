#include "meter/worker.h"

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf_dyn.h>

#include <time.h>

#include <algorithm>
#include <stdexcept>

#include "meter/tsc_clock.h"
#include "net/pcap_player.h"

namespace poolflow::meter {

static_assert(RTE_MAX_ETHPORTS <= 256, "FlowKey keeps the ingress port in 8 bits");

namespace {
constexpr uint16_t kPrefetchAhead = 4;
constexpr uint64_t kMicrosecondsPerMs = 1'000;
// The flow table's times wrap after 4.6 hours; a jump of an hour is trusted.
constexpr uint64_t kClockJumpMs = 3'600'000;
// After that long every flow is due: the last packet of each was that long ago.
static_assert(kMaxIdleTimeoutMs <= kClockJumpMs);
}  // namespace

void Worker::RecordSink::operator()(const FlowRecord& record) {
  worker_.stats_.flows_ended[static_cast<size_t>(record.end_reason)].add();
  worker_.note_lateness(record);
  pending_[count_++] = record;
  if (count_ == kBurstSize) flush();
}

void Worker::RecordSink::flush() {
  if (count_ == 0) return;
  unsigned queued = rte_ring_sp_enqueue_burst_elem(worker_.records_, pending_, sizeof(FlowRecord),
                                                   count_, nullptr);
  while (queued < count_ && wait_for_space_) {
    wait_for_room();
    queued += rte_ring_sp_enqueue_burst_elem(worker_.records_, pending_ + queued,
                                             sizeof(FlowRecord), count_ - queued, nullptr);
  }
  worker_.stats_.records_queued.add(queued);
  if (unlikely(queued < count_)) worker_.stats_.ring_drops.add(count_ - queued);
  count_ = 0;
}

// Waiting for ring space (playback, shutdown) is not the fast path: sleep, longer
// and longer, until a quarter of the ring is free, so that this lcore wakes
// rarely and leaves its CPU to the aggregation thread and the transports, which
// may share it.
void Worker::RecordSink::wait_for_room() {
  const unsigned room = rte_ring_get_capacity(worker_.records_) / 4;
  for (unsigned sleep_us = kFirstSleepUs; rte_ring_free_count(worker_.records_) < room;
       sleep_us = std::min(2 * sleep_us, kMaxSleepUs))
    rte_delay_us_sleep(sleep_us);
}

Worker::Worker(WorkerConfig config, rte_ring* records, const std::atomic<bool>& stop)
    : config_(std::move(config)),
      records_(records),
      stop_(stop),
      table_(config_.flow_capacity, config_.biflow) {
  if (config_.timeouts.idle_ms > kMaxIdleTimeoutMs ||
      config_.timeouts.active_ms > kMaxActiveTimeoutMs)
    throw std::invalid_argument("flow timeouts longer than the flow table can keep");
}

void Worker::note_lateness(const FlowRecord& record) {
  uint64_t due_ms;
  switch (record.end_reason) {
    case FlowEndReason::idle_timeout:
      due_ms = record.last_ms + config_.timeouts.idle_ms;
      break;
    case FlowEndReason::active_timeout:
      due_ms = record.first_ms + config_.timeouts.active_ms;
      break;
    default:
      return;
  }
  stats_.expiry_lateness_max_ms.raise_to(now_ms_ > due_ms ? now_ms_ - due_ms : 0);
}

uint64_t Worker::packet_time_ms(const rte_mbuf* mbuf) const {
  if (timestamp_offset_ < 0 || !(mbuf->ol_flags & timestamp_flag_)) return now_ms_;
  // PcapPlayer stores the capture time in microseconds since the epoch.
  return *RTE_MBUF_DYNFIELD(mbuf, timestamp_offset_, const rte_mbuf_timestamp_t*) /
         kMicrosecondsPerMs;
}

bool Worker::playback_complete() const {
  return std::all_of(config_.queues.begin(), config_.queues.end(),
                     [](const RxQueue& queue) { return queue.player->finished(); });
}

void Worker::meter_burst(uint16_t port, rte_mbuf* const* packets, uint16_t count) {
  ParsedPacket* parsed = burst_.parsed;
  FlowTable::Probe* probes = burst_.probes;
  uint64_t* times = burst_.times;
  uint16_t metered = 0;
  uint64_t frame_octets = 0;

  // Stage 1: parse and hash.
  for (uint16_t i = 0; i < count && i < kPrefetchAhead; ++i)
    rte_prefetch0(rte_pktmbuf_mtod(packets[i], void*));
  for (uint16_t i = 0; i < count; ++i) {
    if (i + kPrefetchAhead < count)
      rte_prefetch0(rte_pktmbuf_mtod(packets[i + kPrefetchAhead], void*));
    const rte_mbuf* mbuf = packets[i];
    frame_octets += mbuf->pkt_len;
    ParsedPacket& p = parsed[metered];
    p = ParsedPacket{};
    p.key.ingress_port = static_cast<uint8_t>(port);
    IgnoreReason why;
    if (unlikely(!parse_packet(rte_pktmbuf_mtod(mbuf, const uint8_t*), mbuf->data_len,
                               mbuf->pkt_len, p, why))) {
      stats_.ignored[static_cast<size_t>(why)].add();
      stats_.ignored_octets.add(mbuf->pkt_len);
      const uint64_t ignored_ms = config_.playback ? packet_time_ms(mbuf) : now_ms_;
      if (stats_.first_ignored_ms.get() == 0) stats_.first_ignored_ms.raise_to(ignored_ms);
      stats_.last_ignored_ms.raise_to(ignored_ms);
      continue;
    }
    if (config_.biflow) make_canonical(p);
    if (config_.playback) times[metered] = packet_time_ms(mbuf);
    ++metered;
  }
  // Hashed once the whole burst is parsed: the parser wrote the keys a few bytes
  // at a time, and reading them back in 8-byte words right away would wait for
  // those stores to retire (no store forwarding across several stores).
  for (uint16_t i = 0; i < metered; ++i) {
    probes[i] = table_.probe(FlowTable::hash(parsed[i].key));
    table_.prefetch_bucket(probes[i]);
  }
  // Stage 2: match signatures, prefetch the entries.
  for (uint16_t i = 0; i < metered; ++i) table_.locate(probes[i]);
  // Stage 3: account.
  uint64_t created = 0;
  FlowTable::Now now(now_ms_, config_.timeouts);
  for (uint16_t i = 0; i < metered; ++i) {
    if (config_.playback) {
      // Should that end flows, account() finds their located slots empty.
      advance_clock(times[i]);
      if (now.ms != now_ms_) now = FlowTable::Now(now_ms_, config_.timeouts);
    }
    const auto result = table_.account(parsed[i], probes[i], now, sink_);
    created += result != FlowTable::Accounted::updated;
  }
  stats_.rx_packets.add(count);
  stats_.rx_octets.add(frame_octets);
  stats_.parsed_packets.add(metered);
  stats_.flows_created.add(created);
}

void Worker::advance_clock(uint64_t now_ms) {
  if (!clock_started_) {
    clock_started_ = true;
    now_ms_ = last_expiry_ms_ = now_ms;
    return;
  }
  if (now_ms <= now_ms_) return;
  // The flow table recovers times from their low 24 bits, so no flow may grow
  // older than about 4.4 hours of flow time. The expiry steps keep every flow
  // younger than its active timeout (at most 2.3 hours) plus 500 ms of sweep and
  // the flow time since the last step; when packets alone would move the clock
  // more than an hour past it (a sparse capture, a gap in it, a suspended host),
  // end what is due now first.
  if (now_ms - last_expiry_ms_ <= kClockJumpMs) {
    now_ms_ = now_ms;
    return;
  }
  sink_.wait_for_space(true);  // rare, and every flow may end: lose none of them
  table_.expire_all_due(now_ms_, config_.timeouts, sink_);
  last_expiry_ms_ = now_ms_;
  if (now_ms - now_ms_ > kClockJumpMs) {
    // Every flow is due an hour on (its last packet is then that long ago).
    table_.expire_all_due(now_ms_ + kClockJumpMs, config_.timeouts, sink_);
    last_expiry_ms_ = now_ms;
  }
  sink_.flush();
  sink_.wait_for_space(config_.playback);
  now_ms_ = now_ms;
}

void Worker::expire_step() {
  // Scan at least enough slots to sweep the whole table once per expiry_sweep_ms
  // of flow time: a burst of packets or a jump in capture time cannot leave
  // flows unexported much past their timeout.
  const uint64_t elapsed = now_ms_ > last_expiry_ms_ ? now_ms_ - last_expiry_ms_ : 0;
  last_expiry_ms_ = now_ms_;
  const uint64_t needed = uint64_t{table_.capacity()} * elapsed / config_.expiry_sweep_ms + 1;
  const uint32_t slots = static_cast<uint32_t>(std::min<uint64_t>(
      table_.capacity(), std::max<uint64_t>(needed, config_.expiry_slots_per_poll)));
  table_.expire_slice(now_ms_, slots, config_.timeouts, sink_);
  sink_.flush();
  active_flows_.store(table_.size(), std::memory_order_relaxed);
}

void Worker::poll_queue(const RxQueue& queue) {
  rte_mbuf* packets[kBurstSize];
  const uint16_t received = queue.player != nullptr
                                ? queue.player->rx_burst(packets, kBurstSize)
                                : rte_eth_rx_burst(queue.port, queue.queue, packets, kBurstSize);
  if (received == 0) return;
  meter_burst(queue.port, packets, received);
  rte_pktmbuf_free_bulk(packets, received);
}

int Worker::run() {
  commit_table();
  timestamp_offset_ = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, nullptr);
  const int flag_bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, nullptr);
  timestamp_flag_ = flag_bit < 0 ? 0 : RTE_BIT64(flag_bit);

  TscClock clock;
  // On playback the first packet sets the flow clock, and a full ring is waited
  // on: the capture cannot overrun, so nothing need be lost.
  if (!config_.playback) advance_clock(clock.now_ms());
  sink_.wait_for_space(config_.playback);
  // A worker without a queue (ports with fewer queues than workers) has nothing to do.
  while (!config_.queues.empty() && !stop_.load(std::memory_order_relaxed)) {
    for (const RxQueue& queue : config_.queues) poll_queue(queue);
    if (!config_.playback) advance_clock(clock.now_ms());
    expire_step();
    if (config_.playback && playback_complete()) break;  // the bursts it delivered were metered
  }

  // Shutdown is not the fast path: wait for ring space so no flow is lost.
  sink_.wait_for_space(true);
  table_.flush_all(now_ms_, config_.timeouts, FlowEndReason::forced_end, sink_);
  sink_.flush();
  active_flows_.store(0, std::memory_order_relaxed);
  timespec cpu{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
  cpu_ns_.store(static_cast<uint64_t>(cpu.tv_sec) * 1'000'000'000 +
                static_cast<uint64_t>(cpu.tv_nsec));
  finished_.store(true, std::memory_order_release);
  return 0;
}

}  // namespace poolflow::meter
