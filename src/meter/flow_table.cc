#include "meter/flow_table.h"

#include <rte_pause.h>

#include <algorithm>

namespace poolflow::meter {

FlowTable::FlowTable(uint32_t capacity, bool biflow)
    : bucket_count_(std::max<uint32_t>(2, (capacity + kWays - 1) / kWays)),
      biflow_(biflow),
      buckets_(bucket_count_),
      entries_(size_t{bucket_count_} * kWays),
      reverse_(biflow ? size_t{bucket_count_} * kWays : 0) {}

FlowRecord FlowTable::to_record(const FlowEntry& e, const FlowTimes& times, uint8_t tcp_flags,
                                const ReverseCounters* reverse, FlowEndReason reason) {
  FlowRecord r;
  r.key = e.stored_key();
  if (reverse != nullptr) {
    r.biflow = true;
    r.reverse_packets = reverse->packets;
    r.reverse_octets = reverse->octets();
    r.reverse_tcp_flags = reverse->tcp_flags;
    if (reverse->initiator_swapped) swap_ends(r.key);  // back to the initiator's direction
  }
  r.tcp_flags = tcp_flags;
  r.end_reason = reason;
  r.mpls_top_label = e.mpls_top_label;
  r.first_ms = times.first_ms;
  r.last_ms = times.last_ms;
  r.packets = e.packets;
  r.octets = e.octets();
  return r;
}

uint32_t FlowTable::displace(Probe& p) {
  secondary_bucket(p);
  for (uint32_t b : p.buckets) {
    for (uint32_t from = b * kWays; from < (b + 1) * kWays; ++from) {
      Probe other = probe(hash(entries_[from].stored_key()));
      const uint32_t target = other.buckets[0] == b ? secondary_bucket(other) : other.buckets[0];
      const uint32_t to = free_slot(target);
      if (to == kNotFound) continue;
      {
        Bucket& dst = buckets_[target];
        const Bucket& src = buckets_[b];
        const uint32_t to_way = to % kWays;
        const uint32_t from_way = from % kWays;
        WriteGuard guard(dst);
        entries_[to] = entries_[from];
        if (biflow_) reverse_[to] = reverse_[from];
        dst.first_tick[to_way] = src.first_tick[from_way];
        dst.last_tick[to_way] = src.last_tick[from_way];
        dst.tcp_flags[to_way] = src.tcp_flags[from_way];
        const bool ending = (src.tcp_end_mask >> from_way) & 1;
        dst.tcp_end_mask =
            static_cast<uint8_t>((dst.tcp_end_mask & ~(1u << to_way)) | ending << to_way);
        dst.signatures[to_way] = other.signature;
      }
      WriteGuard guard(buckets_[b]);
      buckets_[b].signatures[from % kWays] = 0;
      ++displaced_;
      return from;
    }
  }
  return kNotFound;
}

bool FlowTable::read(const FlowKey& key, uint64_t now_ms, FlowRecord& out) const {
  Probe p = probe(hash(key));
  secondary_bucket(p);
  const Bucket* buckets[2] = {&buckets_[p.buckets[0]], &buckets_[p.buckets[1]]};
  for (;;) {
    // Both buckets' sequence counters around the whole search: a flow moved
    // from one to the other meanwhile (displacement) is then seen, not missed.
    uint32_t before[2];
    for (int i = 0; i < 2; ++i) before[i] = buckets[i]->version.load(std::memory_order_acquire);
    if ((before[0] | before[1]) & 1) {
      rte_pause();
      continue;
    }
    bool found = false;
    SlotCopy copy;
    ReverseCounters reverse_copy{};
    for (int i = 0; i < 2 && !found; ++i) {
      const Bucket& bucket = *buckets[i];
      for (uint32_t way = 0; way < kWays && !found; ++way) {
        if (bucket.signatures[way] != p.signature) continue;
        const uint32_t slot = p.buckets[i] * kWays + way;
        copy = {entries_[slot], bucket.first_tick[way], bucket.last_tick[way],
                bucket.tcp_flags[way], ((bucket.tcp_end_mask >> way) & 1) != 0};
        if (biflow_) reverse_copy = reverse_[slot];
        found = copy.entry.holds(key);
      }
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    if (buckets[0]->version.load(std::memory_order_relaxed) != before[0] ||
        buckets[1]->version.load(std::memory_order_relaxed) != before[1])
      continue;  // changed while read: again
    if (found)
      out = to_record(copy.entry, times_of(copy, now_ms), copy.tcp_flags,
                      biflow_ ? &reverse_copy : nullptr, FlowEndReason::none);
    return found;
  }
}

}  // namespace poolflow::meter
