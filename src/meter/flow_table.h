// Per-worker flow table: fixed capacity allocated at start, one writer (the worker
// that owns it), bucketized with 8 slots per bucket and two candidate buckets per
// key. Full keys are always compared: a hash or signature match alone never
// merges two flows. When both buckets are full the least recently seen of their
// 16 flows is exported (lack of resources) to make room.
#pragma once

#include <rte_hash_crc.h>
#include <rte_prefetch.h>

#include <cstdint>
#include <memory>

#include "meter/packet_parser.h"
#include "poolflow/flow_record.h"

namespace poolflow::meter {

struct FlowTimeouts {
  uint64_t idle_ms = 15'000;
  uint64_t active_ms = 1'800'000;
  /// After a TCP FIN or RST the flow stays this long for the final packets.
  uint64_t tcp_end_grace_ms = 1'000;
};

/// Why the flow should end at time `now_ms`, or FlowEndReason::none.
inline FlowEndReason due_end_reason(const FlowRecord& flow, uint64_t now_ms,
                                    const FlowTimeouts& timeouts) {
  const uint64_t idle_for = now_ms > flow.last_ms ? now_ms - flow.last_ms : 0;
  if (flow.end_reason == FlowEndReason::end_of_flow && idle_for >= timeouts.tcp_end_grace_ms)
    return FlowEndReason::end_of_flow;
  if (idle_for >= timeouts.idle_ms) return FlowEndReason::idle_timeout;
  if (now_ms > flow.first_ms && now_ms - flow.first_ms >= timeouts.active_ms)
    return FlowEndReason::active_timeout;
  return FlowEndReason::none;
}

class FlowTable {
 public:
  static constexpr uint32_t kWays = 8;
  static constexpr uint8_t kTcpFin = 0x01;
  static constexpr uint8_t kTcpRst = 0x04;

  enum class Accounted { updated, created, created_after_expiry, created_after_eviction };

  /// `capacity` is rounded up to a power of two, at least 2 buckets.
  explicit FlowTable(uint32_t capacity);

  uint32_t capacity() const { return (bucket_mask_ + 1) * kWays; }
  uint32_t size() const { return size_; }
  static size_t bytes_per_flow() { return sizeof(FlowRecord) + sizeof(uint16_t); }

  static uint32_t hash(const FlowKey& key) { return rte_hash_crc(&key, sizeof(key), 0x9e3779b9); }

  void prefetch(uint32_t hash) const {
    const uint32_t bucket = hash & bucket_mask_;
    rte_prefetch0(&signatures_[bucket * kWays]);
    rte_prefetch0(&flows_[bucket * kWays]);
  }

  /// Accounts one packet at time `now_ms`. A flow that ends because of it (an
  /// expired flow met again, or one evicted to make room) goes to `sink`.
  template <class Sink>
  Accounted account(const ParsedPacket& packet, uint32_t hash, uint64_t now_ms,
                    const FlowTimeouts& timeouts, Sink&& sink);

  /// Checks the next `slots` slots (round robin) for flows due to end at `now_ms`.
  template <class Sink>
  void expire_slice(uint64_t now_ms, uint32_t slots, const FlowTimeouts& timeouts, Sink&& sink);

  /// Ends every flow with `reason`.
  template <class Sink>
  void flush_all(FlowEndReason reason, Sink&& sink);

 private:
  static uint16_t signature(uint32_t hash) {
    const auto sig = static_cast<uint16_t>(hash >> 16);
    return sig == 0 ? 1 : sig;  // 0 marks an empty slot
  }
  // Never the primary bucket itself (bit 0 always differs): every key has 16 slots.
  uint32_t alternative_bucket(uint32_t bucket, uint16_t sig) const {
    return (bucket ^ ((sig * 0x5bd1e995u) | 1u)) & bucket_mask_;
  }
  uint32_t find(const FlowKey& key, uint32_t bucket, uint16_t sig) const;
  static void start_flow(FlowRecord& flow, const ParsedPacket& packet, uint64_t now_ms);
  template <class Sink>
  void end_flow(uint32_t slot, FlowEndReason reason, Sink& sink);

  static constexpr uint32_t kNotFound = UINT32_MAX;

  uint32_t bucket_mask_;
  std::unique_ptr<uint16_t[]> signatures_;  // one per slot, 0 = empty
  std::unique_ptr<FlowRecord[]> flows_;
  uint32_t size_ = 0;
  uint32_t scan_cursor_ = 0;
};

inline uint32_t FlowTable::find(const FlowKey& key, uint32_t bucket, uint16_t sig) const {
  const uint32_t first = bucket * kWays;
  for (uint32_t slot = first; slot < first + kWays; ++slot)
    if (signatures_[slot] == sig && flows_[slot].key == key) return slot;
  return kNotFound;
}

inline void FlowTable::start_flow(FlowRecord& flow, const ParsedPacket& packet, uint64_t now_ms) {
  flow.key = packet.key;
  flow.tcp_flags = packet.tcp_flags;
  flow.end_reason = (packet.tcp_flags & (kTcpFin | kTcpRst)) ? FlowEndReason::end_of_flow
                                                             : FlowEndReason::none;
  flow.first_ms = now_ms;
  flow.last_ms = now_ms;
  flow.packets = 1;
  flow.octets = packet.ip_octets;
}

template <class Sink>
void FlowTable::end_flow(uint32_t slot, FlowEndReason reason, Sink& sink) {
  flows_[slot].end_reason = reason;
  sink(flows_[slot]);
  signatures_[slot] = 0;
  --size_;
}

template <class Sink>
FlowTable::Accounted FlowTable::account(const ParsedPacket& packet, uint32_t hash,
                                        uint64_t now_ms, const FlowTimeouts& timeouts,
                                        Sink&& sink) {
  const uint16_t sig = signature(hash);
  const uint32_t primary = hash & bucket_mask_;
  const uint32_t secondary = alternative_bucket(primary, sig);
  uint32_t slot = find(packet.key, primary, sig);
  if (slot == kNotFound) slot = find(packet.key, secondary, sig);

  if (slot != kNotFound) {
    FlowRecord& flow = flows_[slot];
    const FlowEndReason due = due_end_reason(flow, now_ms, timeouts);
    if (due != FlowEndReason::none) {
      // The flow ended before this packet: export it, this packet starts a new one.
      flow.end_reason = due;
      sink(flow);
      start_flow(flow, packet, now_ms);
      return Accounted::created_after_expiry;
    }
    flow.packets += 1;
    flow.octets += packet.ip_octets;
    flow.tcp_flags |= packet.tcp_flags;
    if (now_ms > flow.last_ms) flow.last_ms = now_ms;
    if (packet.tcp_flags & (kTcpFin | kTcpRst)) flow.end_reason = FlowEndReason::end_of_flow;
    return Accounted::updated;
  }

  Accounted result = Accounted::created;
  const uint32_t candidates[2] = {primary * kWays, secondary * kWays};
  for (uint32_t first : candidates) {
    for (uint32_t s = first; s < first + kWays && slot == kNotFound; ++s)
      if (signatures_[s] == 0) slot = s;
  }
  if (slot == kNotFound) {
    slot = candidates[0];
    for (uint32_t first : candidates)
      for (uint32_t s = first; s < first + kWays; ++s)
        if (flows_[s].last_ms < flows_[slot].last_ms) slot = s;
    end_flow(slot, FlowEndReason::lack_of_resources, sink);
    result = Accounted::created_after_eviction;
  }
  signatures_[slot] = sig;
  start_flow(flows_[slot], packet, now_ms);
  ++size_;
  return result;
}

template <class Sink>
void FlowTable::expire_slice(uint64_t now_ms, uint32_t slots, const FlowTimeouts& timeouts,
                             Sink&& sink) {
  const uint32_t slot_mask = capacity() - 1;
  for (uint32_t i = 0; i < slots; ++i) {
    const uint32_t slot = scan_cursor_;
    scan_cursor_ = (scan_cursor_ + 1) & slot_mask;
    if (signatures_[slot] == 0) continue;
    const FlowEndReason due = due_end_reason(flows_[slot], now_ms, timeouts);
    if (due != FlowEndReason::none) end_flow(slot, due, sink);
  }
}

template <class Sink>
void FlowTable::flush_all(FlowEndReason reason, Sink&& sink) {
  for (uint32_t slot = 0; slot < capacity(); ++slot)
    if (signatures_[slot] != 0) end_flow(slot, reason, sink);
}

}  // namespace poolflow::meter
