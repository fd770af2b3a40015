// Per-worker flow table. Fixed capacity allocated at start (never grows), one
// writer (the worker that owns it), lock-free readers (any thread, per-bucket
// sequence counters). Buckets of 8 slots, two candidate buckets per key, 16-bit
// signatures compared 8 at a time; full keys are always compared, so a hash or
// signature match alone never merges two flows. A flow takes 64 bytes: a
// 56-byte entry (an array of them beside the array of bucket lines: keeping each
// bucket's entries right after it measured no faster) and 8 bytes of its
// bucket's line. When both buckets are full, a flow of theirs that is due ends;
// failing that one is moved to its other bucket if that has room, otherwise the
// least recently seen of the 16 flows is exported (lack of resources).
//
// Lookups are batched by the caller in three stages so that memory latency
// overlaps across a burst: probe() and prefetch_bucket() (hash → buckets, fetch
// the primary bucket's line), locate() (signature match, prefetch the entry),
// account(). Each stage runs over the whole burst before the next: measured with
// worker_bench, interleaving them (hashing during parsing, locating a few
// packets ahead of accounting) or a pipeline three bursts deep was slower.
// account()'s common case (the located slot holds the flow, which the coarse
// times say is not due) is inline; every other case is out of line.
#pragma once

#include <nmmintrin.h>
#include <rte_branch_prediction.h>
#include <rte_hash_crc.h>
#include <rte_prefetch.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "meter/huge_array.h"
#include "meter/packet_parser.h"
#include "poolflow/flow_record.h"

namespace poolflow::meter {

struct FlowTimeouts {
  uint64_t idle_ms = 15'000;
  uint64_t active_ms = 1'800'000;
  /// After a TCP FIN or RST the flow stays this long for the final packets.
  uint64_t tcp_end_grace_ms = 1'000;
};

/// Bytes of a FlowKey kept in its entry: all up to its ip_version, which is a bit.
inline constexpr size_t kEntryKeyBytes = offsetof(FlowKey, ip_version);

/// The state of one flow in 56 bytes: with its 8 bytes of bucket metadata a flow
/// takes 64 bytes of table. The key is compared whole; the IP version is bit 15
/// of the outer VLAN id (VLAN ids have 12 bits). Times are kept modulo 2^24 ms
/// (4.66 hours): bits 8-23 in the bucket's coarse times, which the expiry scan
/// needs anyway, bits 0-7 here. A live flow is younger than that (active
/// timeouts are shorter, and Worker::advance_clock ends due flows before flow
/// time runs further), so the full times are recovered from the current time.
struct alignas(8) FlowEntry {
  uint8_t key[kEntryKeyBytes];
  uint8_t first_ms_low;  ///< bits 0-7 of the first packet's time
  uint8_t last_ms_low;   ///< bits 0-7 of the last packet's time
  uint32_t packets;
  uint32_t octets_low;
  uint8_t octets_high;  ///< octets are 40 bits wide
  MplsLabelSection mpls_top_label;

  // The key's ports and VLAN ids are one 8-byte word; bit 15 of the outer VLAN
  // id is bit 47 of it.
  static constexpr size_t kKeyTailOffset = offsetof(FlowKey, src_port);
  static constexpr uint64_t kIpv6Bit = uint64_t{1} << 47;

  static uint64_t load64(const void* p) {
    uint64_t w;
    std::memcpy(&w, p, sizeof(w));
    return w;
  }
  static uint16_t load16(const void* p) {
    uint16_t w;
    std::memcpy(&w, p, sizeof(w));
    return w;
  }
  /// The word at kKeyTailOffset as this entry keeps it.
  static uint64_t key_tail(const FlowKey& k) {
    return load64(reinterpret_cast<const uint8_t*>(&k) + kKeyTailOffset) |
           (k.ip_version == 6 ? kIpv6Bit : 0);
  }

  /// Stored in the pieces holds() loads, so that the flow's next packet, often
  /// in the same burst, reads them straight from the store buffer.
  void store_key(const FlowKey& k) {
    std::memcpy(key, &k, kKeyTailOffset);
    const uint64_t tail = key_tail(k);
    std::memcpy(key + kKeyTailOffset, &tail, sizeof(tail));
    std::memcpy(key + kKeyTailOffset + 8, reinterpret_cast<const uint8_t*>(&k) + kKeyTailOffset + 8,
                sizeof(uint16_t));
  }
  /// Whether this entry is the flow of `k`: every byte of the key compared.
  bool holds(const FlowKey& k) const {
    const auto* other = reinterpret_cast<const uint8_t*>(&k);
    uint64_t differ = 0;
    for (size_t i = 0; i < kKeyTailOffset; i += sizeof(uint64_t))
      differ |= load64(key + i) ^ load64(other + i);
    differ |= load64(key + kKeyTailOffset) ^ key_tail(k);
    differ |= load16(key + kKeyTailOffset + 8) ^ load16(other + kKeyTailOffset + 8);
    return differ == 0;
  }
  FlowKey stored_key() const {
    FlowKey k;
    std::memcpy(static_cast<void*>(&k), key, kEntryKeyBytes);
    k.ip_version = (k.vlan_id & 0x8000) != 0 ? 6 : 4;
    k.vlan_id &= 0x0fff;
    return k;
  }
  uint64_t octets() const { return uint64_t{octets_high} << 32 | octets_low; }
};
static_assert(sizeof(FlowEntry) == 56);
static_assert(kEntryKeyBytes == 42 && offsetof(FlowKey, vlan_id) == FlowEntry::kKeyTailOffset + 4 &&
                  offsetof(FlowKey, ingress_port) == FlowEntry::kKeyTailOffset + 8,
              "the entry keeps the key's bytes in FlowKey's order");

/// A flow's full times and end mark, recovered from its bucket and entry.
struct FlowTimes {
  uint64_t first_ms;
  uint64_t last_ms;
  bool tcp_end_seen;  ///< FIN or RST seen: the flow ends after the grace period
};

/// Counters of a biflow's reverse direction, in an array beside the entries
/// (biflow metering only).
struct ReverseCounters {
  uint32_t packets;
  uint32_t octets_low;
  uint8_t octets_high;
  uint8_t tcp_flags;
  uint8_t initiator_swapped;  ///< the first packet's key was swapped into canonical order
  uint8_t reserved;

  uint64_t octets() const { return uint64_t{octets_high} << 32 | octets_low; }
};

/// Longest active timeout: a live flow must stay well younger than the 2^24 ms
/// over which its times are recovered.
inline constexpr uint64_t kMaxActiveTimeoutMs = (1u << 23) - 1;
/// Longest idle timeout the expiry scan's coarse times can express safely.
inline constexpr uint64_t kMaxIdleTimeoutMs = 3'600'000;

class FlowTable {
 public:
  static constexpr uint32_t kWays = 8;
  static constexpr uint32_t kNotFound = UINT32_MAX;
  static constexpr uint8_t kTcpFin = 0x01;
  static constexpr uint8_t kTcpRst = 0x04;
  static constexpr uint64_t kMaxOctets = (uint64_t{1} << 40) - 1;

  enum class Accounted { updated, created, created_after_expiry, created_after_eviction };

  /// The expiry scan's coarse thresholds, in ticks.
  struct CoarseLimits {
    uint16_t now_tick, idle, active, grace;
  };
  /// A flow time and what the timeouts make of it, made once for the many
  /// packets metered at that time: deriving the coarse thresholds for every
  /// packet took 18 instructions of its 300.
  struct Now {
    Now(uint64_t now_ms, const FlowTimeouts& flow_timeouts)
        : ms(now_ms), timeouts(&flow_timeouts), coarse(coarse_limits(now_ms, flow_timeouts)) {}
    uint64_t ms;
    const FlowTimeouts* timeouts;
    CoarseLimits coarse;
  };

  /// A key's place in the table, filled by probe() and locate().
  struct Probe {
    uint32_t hash;
    uint32_t buckets[2];  ///< the second is computed only when the first does not do
    uint16_t signature;
    uint32_t slot = kNotFound;  ///< a slot whose signature matched, if any
  };

  /// `capacity` is rounded up to a whole number of buckets (at least two). With
  /// `biflow`, keys are in canonical order (make_canonical) and each flow also
  /// counts its reverse direction (RFC 5103).
  explicit FlowTable(uint32_t capacity, bool biflow = false);

  /// Commits the table's memory on the calling thread's NUMA node (see
  /// HugeArray::commit). Call it from the thread that meters, before any packet.
  void commit_memory() {
    buckets_.commit();
    entries_.commit();
    reverse_.commit();
  }

  uint32_t capacity() const { return bucket_count_ * kWays; }
  uint32_t size() const { return size_; }
  /// Flows moved to their other bucket to make room for a new one, so far.
  uint64_t displaced() const { return displaced_; }
  /// Table memory per slot: the entry and its share of bucket metadata (and the
  /// reverse counters of biflow metering): 64 bytes, 76 with biflow metering.
  size_t bytes_per_flow() const {
    return sizeof(FlowEntry) + sizeof(Bucket) / kWays + (biflow_ ? sizeof(ReverseCounters) : 0);
  }

  /// Hash of a key: three independent CRC32-C chains (so their latencies
  /// overlap) folded together.
  static uint32_t hash(const FlowKey& key) {
    static_assert(sizeof(FlowKey) == 5 * sizeof(uint64_t) + sizeof(uint32_t));
    uint64_t w[5];
    uint32_t tail;
    std::memcpy(w, &key, sizeof(w));
    std::memcpy(&tail, reinterpret_cast<const uint8_t*>(&key) + sizeof(w), sizeof(tail));
    const uint64_t a = _mm_crc32_u64(_mm_crc32_u64(0x9e3779b9, w[0]), w[1]);
    const uint64_t b = _mm_crc32_u64(_mm_crc32_u64(0x85ebca6b, w[2]), w[3]);
    const uint64_t c = _mm_crc32_u32(static_cast<uint32_t>(_mm_crc32_u64(0xc2b2ae35, w[4])), tail);
    return static_cast<uint32_t>(((a << 32 | b) * 0x9e3779b97f4a7c15ull) >> 32) ^
           static_cast<uint32_t>(c);
  }

  /// Stage 1: the candidate buckets of `hash` (flows are placed in their primary
  /// bucket whenever it has room; the secondary is computed when needed).
  Probe probe(uint32_t hash) const;
  /// Stage 1, continued: starts fetching the primary bucket's line, which
  /// locate() reads, while the rest of the burst is hashed.
  void prefetch_bucket(const Probe& probe) const { rte_prefetch0(&buckets_[probe.buckets[0]]); }
  /// Stage 2: finds a slot with the key's signature; prefetches its entry.
  void locate(Probe& probe) const;
  /// Stage 3: accounts one packet at time `now`. A flow that ends because of it
  /// (an expired flow met again, full counters, or one evicted to make room)
  /// goes to `sink` as a FlowRecord.
  template <class Sink>
  Accounted account(const ParsedPacket& packet, Probe& probe, const Now& now, Sink&& sink) {
    if (likely(update_located(packet, probe, now))) return Accounted::updated;
    return account_any(packet, probe, now.ms, *now.timeouts, sink);
  }
  /// The same, with the thresholds derived for this one packet.
  template <class Sink>
  Accounted account(const ParsedPacket& packet, Probe& probe, uint64_t now_ms,
                    const FlowTimeouts& timeouts, Sink&& sink) {
    return account(packet, probe, Now(now_ms, timeouts), sink);
  }

  /// The three stages for one packet.
  template <class Sink>
  Accounted account(const ParsedPacket& packet, uint64_t now_ms, const FlowTimeouts& timeouts,
                    Sink&& sink) {
    Probe p = probe(hash(packet.key));
    locate(p);
    return account(packet, p, now_ms, timeouts, sink);
  }

  /// Checks the next `slots` slots (round robin, whole buckets) for flows due to
  /// end at `now_ms`, reading an entry only when its bucket's coarse times say it
  /// may be due. Idle timeouts up to kMaxIdleTimeoutMs.
  template <class Sink>
  void expire_slice(uint64_t now_ms, uint32_t slots, const FlowTimeouts& timeouts, Sink&& sink) {
    scan(now_ms, (slots + kWays - 1) / kWays, timeouts, true, sink);
  }

  /// Checks every entry, without the coarse times: for a flow clock about to
  /// move further than their horizon (a played back capture with a gap of hours).
  /// `now_ms` must be within that horizon of the flows' times (see
  /// Worker::advance_clock).
  template <class Sink>
  void expire_all_due(uint64_t now_ms, const FlowTimeouts& timeouts, Sink&& sink) {
    scan(now_ms, bucket_count_, timeouts, false, sink);
  }

  /// Ends every flow: with its timeout's reason where one has passed, otherwise
  /// with `reason`.
  template <class Sink>
  void flush_all(uint64_t now_ms, const FlowTimeouts& timeouts, FlowEndReason reason, Sink&& sink);

  /// Lock-free read from any thread: a consistent copy of the flow with `key` as
  /// it stands at `now_ms` (end_reason none), or false when there is none.
  bool read(const FlowKey& key, uint64_t now_ms, FlowRecord& out) const;

  /// Why a flow with `times` should end at `now_ms`, or FlowEndReason::none.
  static FlowEndReason due_end_reason(const FlowTimes& times, uint64_t now_ms,
                                      const FlowTimeouts& timeouts);

 private:
  struct alignas(64) Bucket {
    uint16_t signatures[kWays];  ///< 0 marks an empty slot
    // Coarse times of each slot's first and last packet (ticks of 256 ms,
    // modulo 2^16 = 4.6 hours; also the high bits of its times) and its
    // tcp_end_seen bit: the expiry scan reads an entry only when these say it
    // may be due.
    uint16_t first_tick[kWays];
    uint16_t last_tick[kWays];
    /// Sequence counter of the bucket's slots: odd while the writer changes them.
    std::atomic<uint32_t> version{0};
    uint8_t tcp_end_mask;
    uint8_t tcp_flags[kWays];  ///< the union of each slot's TCP flags
  };
  static_assert(sizeof(Bucket) == 64);
  /// What a lock-free reader copies of a slot.
  struct SlotCopy {
    FlowEntry entry;
    uint16_t first_tick, last_tick;
    uint8_t tcp_flags;
    bool tcp_end_seen;
  };
  static constexpr unsigned kTickShift = 8;
  static constexpr uint32_t kScanPrefetchMax = 16;
  static_assert(offsetof(Bucket, first_tick) == 16 && offsetof(Bucket, last_tick) == 32,
                "maybe_due_mask loads the signatures and coarse times as three vectors");
  static uint16_t tick(uint64_t ms) { return static_cast<uint16_t>(ms >> kTickShift); }
  static uint8_t ms_low(uint64_t ms) { return static_cast<uint8_t>(ms); }
  static_assert(kTickShift == 8, "a time is the tick's 16 bits over the entry's 8");
  static constexpr uint32_t kTimeMask = (1u << 24) - 1;
  /// How far after `now_ms` a recovered time may be: a lock-free reader's clock
  /// may lag the worker's.
  static constexpr uint32_t kTimeLead = 1u << 20;
  /// The time whose low 24 bits are `tick`:`low`, from 2^24 - kTimeLead ms before
  /// `now_ms` to kTimeLead ms after it.
  static uint64_t recover_ms(uint16_t tick, uint8_t low, uint64_t now_ms) {
    const uint32_t time24 = uint32_t{tick} << kTickShift | low;
    const uint32_t before = (static_cast<uint32_t>(now_ms) - time24 + kTimeLead) & kTimeMask;
    return now_ms + kTimeLead - before;
  }
  static FlowTimes times_of(const SlotCopy& copy, uint64_t now_ms) {
    return {recover_ms(copy.first_tick, copy.entry.first_ms_low, now_ms),
            recover_ms(copy.last_tick, copy.entry.last_ms_low, now_ms), copy.tcp_end_seen};
  }
  FlowTimes times_of(uint32_t slot, uint64_t now_ms) const {
    const Bucket& bucket = buckets_[slot / kWays];
    const uint32_t way = slot % kWays;
    const FlowEntry& e = entries_[slot];
    return {recover_ms(bucket.first_tick[way], e.first_ms_low, now_ms),
            recover_ms(bucket.last_tick[way], e.last_ms_low, now_ms),
            ((bucket.tcp_end_mask >> way) & 1) != 0};
  }
  static FlowRecord to_record(const FlowEntry& entry, const FlowTimes& times, uint8_t tcp_flags,
                              const ReverseCounters* reverse, FlowEndReason reason);

  // Marks a bucket as being written for the lifetime of the guard.
  class WriteGuard {
   public:
    explicit WriteGuard(Bucket& bucket) : bucket_(bucket) {
      const uint32_t v = bucket_.version.load(std::memory_order_relaxed);
      bucket_.version.store(v + 1, std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_release);
    }
    ~WriteGuard() {
      bucket_.version.store(bucket_.version.load(std::memory_order_relaxed) + 1,
                            std::memory_order_release);
    }

   private:
    Bucket& bucket_;
  };

  // The bucket index comes from the hash's high bits; the signature mixes all of
  // them (a multiply carries the low bits up), so that keys of one bucket still
  // differ in signature however many buckets there are.
  static uint16_t signature(uint32_t hash) {
    const auto sig = static_cast<uint16_t>((hash * 0x9e3779b1u) >> 16);
    return sig == 0 ? 1 : sig;  // 0 marks an empty slot
  }
  /// Slot-match bitmask of a bucket: two bits per slot whose signature is `sig`.
  static uint32_t match_mask(const Bucket& bucket, uint16_t sig);
  static CoarseLimits coarse_limits(uint64_t now_ms, const FlowTimeouts& timeouts) {
    // A slot's entry is read once its coarse times say it may be due; two ticks
    // of slack cover the truncation of both times.
    auto threshold = [](uint64_t ms) -> uint16_t {
      const uint64_t ticks = ms >> kTickShift;
      return static_cast<uint16_t>(ticks > 2 ? ticks - 2 : 0);
    };
    return {tick(now_ms), threshold(timeouts.idle_ms), threshold(timeouts.active_ms),
            threshold(timeouts.tcp_end_grace_ms)};
  }
  /// Slot bitmask (two bits per slot) of the occupied slots that may be due.
  static uint32_t maybe_due_mask(const Bucket& bucket, const CoarseLimits& limits);
  /// The same test for one occupied slot, in scalar loads of its own fields: an
  /// earlier packet of the burst may just have stored them, and a vector load
  /// over such a store waits for it to retire (no store forwarding).
  static bool maybe_due(const Bucket& bucket, uint32_t way, const CoarseLimits& limits) {
    const auto idle_for = static_cast<uint16_t>(limits.now_tick - bucket.last_tick[way]);
    const auto alive_for = static_cast<uint16_t>(limits.now_tick - bucket.first_tick[way]);
    const bool ending = ((bucket.tcp_end_mask >> way) & 1) != 0;
    return idle_for >= limits.idle || alive_for >= limits.active ||
           (ending && idle_for >= limits.grace);
  }
  uint32_t secondary_bucket(Probe& probe) const;
  uint32_t find(const FlowKey& key, Probe& probe) const;
  uint32_t free_slot(uint32_t bucket) const {
    const uint32_t empty = match_mask(buckets_[bucket], 0);
    return empty == 0 ? kNotFound
                      : bucket * kWays + static_cast<uint32_t>(__builtin_ctz(empty)) / 2;
  }
  /// Makes room in a full pair of buckets by moving one of their flows to its
  /// own other bucket; returns the freed slot, or kNotFound.
  uint32_t displace(Probe& probe);
  /// Ends a flow of the key's two buckets that is due, if any; returns its slot
  /// or kNotFound.
  template <class Sink>
  uint32_t end_due_flow(Probe& probe, uint64_t now_ms, const FlowTimeouts& timeouts, Sink& sink);
  /// Ends up to `at_most` due flows of bucket `b` among `candidates` (two mask
  /// bits per slot); returns the slot of the last one, or kNotFound.
  template <class Sink>
  uint32_t end_due_in(uint32_t b, uint32_t candidates, uint32_t at_most, uint64_t now_ms,
                      const FlowTimeouts& timeouts, Sink& sink);
  /// The common case of account(), inline: the located slot holds the packet's
  /// flow, which its coarse times say is not due and whose counters have room.
  /// Updates it and returns true; otherwise changes nothing and returns false.
  bool update_located(const ParsedPacket& packet, const Probe& probe, const Now& now);
  /// Every case of account(), out of line.
  template <class Sink>
  [[gnu::noinline]] Accounted account_any(const ParsedPacket& packet, Probe& probe, uint64_t now_ms,
                                          const FlowTimeouts& timeouts, Sink& sink);
  /// With biflow metering, the reverse counters of the flow in `slot` when
  /// `packet` goes the other way than its first packet; otherwise nullptr.
  ReverseCounters* reverse_for(uint32_t slot, const ParsedPacket& packet) {
    return biflow_ && packet.swapped != reverse_[slot].initiator_swapped ? &reverse_[slot]
                                                                         : nullptr;
  }
  /// Whether the counters of `packet`'s direction (`reverse`, or the entry's)
  /// can count it: at their limit they end the record instead.
  static bool has_room(const FlowEntry& e, const ReverseCounters* reverse, uint32_t ip_octets) {
    const uint32_t packets = reverse != nullptr ? reverse->packets : e.packets;
    const uint64_t octets = (reverse != nullptr ? reverse->octets() : e.octets()) + ip_octets;
    return packets != UINT32_MAX && octets <= kMaxOctets;
  }
  /// Counts `packet` in the flow in `slot` (in `reverse` when given).
  void add_packet(uint32_t slot, const ParsedPacket& packet, ReverseCounters* reverse,
                  uint64_t now_ms);
  void start_flow(uint32_t slot, const ParsedPacket& packet, uint64_t now_ms);
  template <class Sink>
  void end_flow(uint32_t slot, uint64_t now_ms, FlowEndReason reason, Sink& sink);
  template <class Sink>
  void scan(uint64_t now_ms, uint32_t buckets, const FlowTimeouts& timeouts, bool coarse,
            Sink& sink);

  FlowRecord record_of(uint32_t slot, uint64_t now_ms, FlowEndReason reason) const {
    return to_record(entries_[slot], times_of(slot, now_ms),
                     buckets_[slot / kWays].tcp_flags[slot % kWays],
                     biflow_ ? &reverse_[slot] : nullptr, reason);
  }

  uint32_t bucket_count_;
  bool biflow_;
  HugeArray<Bucket> buckets_;
  HugeArray<FlowEntry> entries_;
  HugeArray<ReverseCounters> reverse_;  ///< empty unless biflow_
  uint32_t size_ = 0;
  uint64_t displaced_ = 0;
  uint32_t scan_cursor_ = 0;
};

// ---- inline fast path ----

inline FlowTable::Probe FlowTable::probe(uint32_t hash) const {
  Probe p;
  p.hash = hash;
  p.signature = signature(hash);
  // Multiply-shift maps the hash onto any bucket count (no power-of-two rounding).
  p.buckets[0] = static_cast<uint32_t>((uint64_t{hash} * bucket_count_) >> 32);
  p.buckets[1] = kNotFound;
  return p;
}

inline uint32_t FlowTable::secondary_bucket(Probe& p) const {
  if (p.buckets[1] == kNotFound) {
    const uint32_t other = rte_hash_crc_4byte(p.hash, 0x85ebca6b);
    uint32_t b = static_cast<uint32_t>((uint64_t{other} * bucket_count_) >> 32);
    if (b == p.buckets[0]) b = b + 1 == bucket_count_ ? 0 : b + 1;
    p.buckets[1] = b;
  }
  return p.buckets[1];
}

inline uint32_t FlowTable::match_mask(const Bucket& bucket, uint16_t sig) {
  const __m128i sigs = _mm_load_si128(reinterpret_cast<const __m128i*>(bucket.signatures));
  const __m128i equal = _mm_cmpeq_epi16(sigs, _mm_set1_epi16(static_cast<short>(sig)));
  return static_cast<uint32_t>(_mm_movemask_epi8(equal));
}

inline void FlowTable::locate(Probe& p) const {
  for (int i = 0; i < 2; ++i) {
    const uint32_t b = i == 0 ? p.buckets[0] : secondary_bucket(p);
    const uint32_t mask = match_mask(buckets_[b], p.signature);
    if (mask != 0) {
      p.slot = b * kWays + static_cast<uint32_t>(__builtin_ctz(mask)) / 2;
      const auto* entry = reinterpret_cast<const char*>(&entries_[p.slot]);
      rte_prefetch0(entry);
      rte_prefetch0(entry + sizeof(FlowEntry) - 1);  // most entries straddle two lines
      return;
    }
  }
  p.slot = kNotFound;
}

inline uint32_t FlowTable::find(const FlowKey& key, Probe& p) const {
  for (int i = 0; i < 2; ++i) {
    const uint32_t b = i == 0 ? p.buckets[0] : secondary_bucket(p);
    for (uint32_t mask = match_mask(buckets_[b], p.signature); mask != 0; mask &= mask - 1) {
      const uint32_t slot = b * kWays + static_cast<uint32_t>(__builtin_ctz(mask)) / 2;
      mask &= mask - 1;  // each slot has two bits
      if (entries_[slot].holds(key)) return slot;
    }
  }
  return kNotFound;
}

inline FlowEndReason FlowTable::due_end_reason(const FlowTimes& times, uint64_t now_ms,
                                               const FlowTimeouts& timeouts) {
  const uint64_t idle_for = now_ms > times.last_ms ? now_ms - times.last_ms : 0;
  if (times.tcp_end_seen && idle_for >= timeouts.tcp_end_grace_ms)
    return FlowEndReason::end_of_flow;
  if (idle_for >= timeouts.idle_ms) return FlowEndReason::idle_timeout;
  if (now_ms > times.first_ms && now_ms - times.first_ms >= timeouts.active_ms)
    return FlowEndReason::active_timeout;
  return FlowEndReason::none;
}

inline void FlowTable::start_flow(uint32_t slot, const ParsedPacket& packet, uint64_t now_ms) {
  FlowEntry& e = entries_[slot];
  Bucket& bucket = buckets_[slot / kWays];
  const uint32_t way = slot % kWays;
  bucket.first_tick[way] = bucket.last_tick[way] = tick(now_ms);
  const bool ending = (packet.tcp_flags & (kTcpFin | kTcpRst)) != 0;
  bucket.tcp_end_mask = static_cast<uint8_t>((bucket.tcp_end_mask & ~(1u << way)) | ending << way);
  bucket.tcp_flags[way] = packet.tcp_flags;
  e.store_key(packet.key);
  e.first_ms_low = e.last_ms_low = ms_low(now_ms);
  e.packets = 1;
  e.octets_low = packet.ip_octets;
  e.octets_high = 0;
  e.mpls_top_label = packet.mpls_top_label;
  if (biflow_) reverse_[slot] = ReverseCounters{0, 0, 0, 0, packet.swapped, 0};
}

template <class Sink>
void FlowTable::end_flow(uint32_t slot, uint64_t now_ms, FlowEndReason reason, Sink& sink) {
  Bucket& bucket = buckets_[slot / kWays];
  {
    WriteGuard guard(bucket);
    bucket.signatures[slot % kWays] = 0;
  }
  --size_;
  sink(record_of(slot, now_ms, reason));
}

inline bool FlowTable::update_located(const ParsedPacket& packet, const Probe& p, const Now& now) {
  const uint32_t slot = p.slot;
  // Biflows, whose packets may count in their reverse counters, take account_any().
  if (slot == kNotFound || biflow_) return false;
  const Bucket& bucket = buckets_[slot / kWays];
  const uint32_t way = slot % kWays;
  const FlowEntry& e = entries_[slot];
  if (bucket.signatures[way] != p.signature || !e.holds(packet.key)) return false;
  // The expiry scan's coarse test: a flow it passes is not due.
  if (maybe_due(bucket, way, now.coarse) || !has_room(e, nullptr, packet.ip_octets)) return false;
  add_packet(slot, packet, nullptr, now.ms);
  return true;
}

inline void FlowTable::add_packet(uint32_t slot, const ParsedPacket& packet,
                                  ReverseCounters* reverse, uint64_t now_ms) {
  FlowEntry& e = entries_[slot];
  Bucket& bucket = buckets_[slot / kWays];
  const uint32_t way = slot % kWays;
  WriteGuard guard(bucket);
  if (reverse != nullptr) {
    const uint64_t octets = reverse->octets() + packet.ip_octets;
    reverse->packets += 1;
    reverse->octets_low = static_cast<uint32_t>(octets);
    reverse->octets_high = static_cast<uint8_t>(octets >> 32);
    reverse->tcp_flags |= packet.tcp_flags;
  } else {
    const uint64_t octets = e.octets() + packet.ip_octets;
    e.packets += 1;
    e.octets_low = static_cast<uint32_t>(octets);
    e.octets_high = static_cast<uint8_t>(octets >> 32);
    bucket.tcp_flags[way] |= packet.tcp_flags;
  }
  // The flow clock never goes back, so this packet is the last one.
  e.last_ms_low = ms_low(now_ms);
  bucket.last_tick[way] = tick(now_ms);
  if ((packet.tcp_flags & (kTcpFin | kTcpRst)) != 0)
    bucket.tcp_end_mask |= static_cast<uint8_t>(1u << way);
}

template <class Sink>
FlowTable::Accounted FlowTable::account_any(const ParsedPacket& packet, Probe& p, uint64_t now_ms,
                                            const FlowTimeouts& timeouts, Sink& sink) {
  // The located slot may be stale (an earlier packet of the burst changed the
  // bucket) or hold another key with the same signature: confirm or search.
  uint32_t slot = p.slot;
  // (An ended flow's entry keeps its key: the signature says whether it is in use.)
  if (slot == kNotFound || buckets_[slot / kWays].signatures[slot % kWays] != p.signature ||
      !entries_[slot].holds(packet.key))
    slot = find(packet.key, p);

  if (slot != kNotFound) {
    ReverseCounters* reverse = reverse_for(slot, packet);
    FlowEndReason due = due_end_reason(times_of(slot, now_ms), now_ms, timeouts);
    // Counters about to overflow end the record early, as an active timeout would.
    if (due == FlowEndReason::none && !has_room(entries_[slot], reverse, packet.ip_octets))
      due = FlowEndReason::active_timeout;
    if (due == FlowEndReason::none) {
      add_packet(slot, packet, reverse, now_ms);
      return Accounted::updated;
    }
    // The flow ended before this packet: export it, this packet starts a new one.
    WriteGuard guard(buckets_[slot / kWays]);
    sink(record_of(slot, now_ms, due));
    start_flow(slot, packet, now_ms);
    return Accounted::created_after_expiry;
  }

  Accounted result = Accounted::created;
  slot = free_slot(p.buckets[0]);
  if (slot == kNotFound) slot = free_slot(secondary_bucket(p));
  // A due flow ends rather than moves: moved, it would leave the place where the
  // expiry scan last checked it.
  if (slot == kNotFound) slot = end_due_flow(p, now_ms, timeouts, sink);
  if (slot == kNotFound) slot = displace(p);
  if (slot == kNotFound) {
    uint64_t oldest_idle = 0;
    for (uint32_t b : p.buckets)
      for (uint32_t s = b * kWays; s < (b + 1) * kWays; ++s) {
        const uint64_t last_ms = times_of(s, now_ms).last_ms;
        const uint64_t idle = now_ms > last_ms ? now_ms - last_ms : 0;
        if (slot == kNotFound || idle > oldest_idle) {
          slot = s;
          oldest_idle = idle;
        }
      }
    end_flow(slot, now_ms, FlowEndReason::lack_of_resources, sink);  // none of them was due
    result = Accounted::created_after_eviction;
  }
  Bucket& bucket = buckets_[slot / kWays];
  WriteGuard guard(bucket);
  start_flow(slot, packet, now_ms);
  bucket.signatures[slot % kWays] = p.signature;
  ++size_;
  return result;
}

template <class Sink>
uint32_t FlowTable::end_due_flow(Probe& p, uint64_t now_ms, const FlowTimeouts& timeouts,
                                 Sink& sink) {
  const CoarseLimits limits = coarse_limits(now_ms, timeouts);
  for (uint32_t b : p.buckets) {
    const uint32_t slot =
        end_due_in(b, maybe_due_mask(buckets_[b], limits), 1, now_ms, timeouts, sink);
    if (slot != kNotFound) return slot;
  }
  return kNotFound;
}

template <class Sink>
uint32_t FlowTable::end_due_in(uint32_t b, uint32_t candidates, uint32_t at_most, uint64_t now_ms,
                               const FlowTimeouts& timeouts, Sink& sink) {
  uint32_t last = kNotFound;
  for (candidates &= 0xffff; candidates != 0 && at_most != 0; candidates &= candidates - 1) {
    const uint32_t slot = b * kWays + static_cast<uint32_t>(__builtin_ctz(candidates)) / 2;
    candidates &= candidates - 1;  // each slot has two bits
    const FlowEndReason due = due_end_reason(times_of(slot, now_ms), now_ms, timeouts);
    if (due == FlowEndReason::none) continue;
    end_flow(slot, now_ms, due, sink);
    last = slot;
    --at_most;
  }
  return last;
}

inline uint32_t FlowTable::maybe_due_mask(const Bucket& bucket, const CoarseLimits& limits) {
  // Unsigned 16-bit a >= b is max(a, b) == a.
  auto at_least = [](__m128i a, __m128i b) { return _mm_cmpeq_epi16(_mm_max_epu16(a, b), a); };
  const __m128i now = _mm_set1_epi16(static_cast<short>(limits.now_tick));
  const auto* base = reinterpret_cast<const __m128i*>(bucket.signatures);
  const __m128i signatures = _mm_load_si128(base);
  const __m128i first = _mm_load_si128(base + 1);
  const __m128i last = _mm_load_si128(base + 2);
  const __m128i idle_for = _mm_sub_epi16(now, last);
  const __m128i alive_for = _mm_sub_epi16(now, first);
  const __m128i way_bits = _mm_setr_epi16(1, 2, 4, 8, 16, 32, 64, 128);
  const __m128i ending =
      _mm_cmpeq_epi16(_mm_and_si128(_mm_set1_epi16(bucket.tcp_end_mask), way_bits), way_bits);
  __m128i due =
      _mm_or_si128(at_least(idle_for, _mm_set1_epi16(static_cast<short>(limits.idle))),
                   at_least(alive_for, _mm_set1_epi16(static_cast<short>(limits.active))));
  due = _mm_or_si128(
      due,
      _mm_and_si128(ending, at_least(idle_for, _mm_set1_epi16(static_cast<short>(limits.grace)))));
  const __m128i empty = _mm_cmpeq_epi16(signatures, _mm_setzero_si128());
  return static_cast<uint32_t>(_mm_movemask_epi8(_mm_andnot_si128(empty, due)));
}

template <class Sink>
void FlowTable::scan(uint64_t now_ms, uint32_t buckets, const FlowTimeouts& timeouts, bool coarse,
                     Sink& sink) {
  const CoarseLimits limits = coarse_limits(now_ms, timeouts);
  for (uint32_t i = 0; i < buckets; ++i) {
    const uint32_t b = scan_cursor_;
    scan_cursor_ = scan_cursor_ + 1 == bucket_count_ ? 0 : scan_cursor_ + 1;
    const Bucket& bucket = buckets_[b];
    // Without the coarse filter every occupied slot.
    end_due_in(b, coarse ? maybe_due_mask(bucket, limits) : ~match_mask(bucket, 0), kWays, now_ms,
               timeouts, sink);
  }
  // The buckets of the next slice of the same size, fetched while the worker
  // goes on with its packets (worker_bench: a few per cent faster than without).
  for (uint32_t i = 0, b = scan_cursor_; i < std::min(buckets, kScanPrefetchMax); ++i) {
    rte_prefetch0(&buckets_[b]);
    b = b + 1 == bucket_count_ ? 0 : b + 1;
  }
}

template <class Sink>
void FlowTable::flush_all(uint64_t now_ms, const FlowTimeouts& timeouts, FlowEndReason reason,
                          Sink&& sink) {
  for (uint32_t slot = 0; slot < capacity(); ++slot) {
    if (buckets_[slot / kWays].signatures[slot % kWays] == 0) continue;
    const FlowEndReason due = due_end_reason(times_of(slot, now_ms), now_ms, timeouts);
    end_flow(slot, now_ms, due != FlowEndReason::none ? due : reason, sink);
  }
}

}  // namespace poolflow::meter
