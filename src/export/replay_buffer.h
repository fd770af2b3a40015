// The draft's "limited retransmission": reliable flow records kept, after they
// were exported, until the collector confirms it stored them, so that a
// transport session that ends (a collector that dies) is followed by a new one
// that exports them again. Records, not messages: the new session has its own
// templates and sequence numbers. Bounded in bytes and age; a record that leaves
// unconfirmed is counted (it is not lost yet, but no longer protected). No I/O,
// one thread (the aggregation thread).
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "poolflow/counter.h"
#include "poolflow/flow_record.h"

namespace poolflow::exporter {

struct ReplayBufferConfig {
  size_t max_bytes = 64u << 20;
  uint32_t max_age_ms = 60000;
};

struct ReplayStats {
  RelaxedCounter confirmed;       ///< records released by a confirmation of storage
  RelaxedCounter replayed;        ///< records exported again in a later transport session
  RelaxedCounter evicted_full;    ///< left unconfirmed: the buffer was full
  RelaxedCounter evicted_old;     ///< left unconfirmed: older than max_age_ms
  RelaxedCounter confirmations;   ///< confirmations that released something
  std::atomic<uint64_t> held{0};  ///< records in the buffer now
};

class ReplayBuffer {
 public:
  explicit ReplayBuffer(const ReplayBufferConfig& config) : config_(config) {}

  /// Keeps `record`, first making room by dropping the oldest (counted);
  /// returns its serial number (consecutive from 0).
  uint64_t append(const FlowRecord& record, uint64_t now_ms);

  /// Marks the records with serials in [begin, end) as stored, and releases the
  /// oldest while they are (a range may come before older ones are confirmed:
  /// records replayed after newer ones).
  void confirm(uint64_t begin, uint64_t end);

  /// Gives up the records with serials in [begin, end): the exporter dropped
  /// them (counted as not sent) and will not export them again.
  void drop(uint64_t begin, uint64_t end);

  /// Releases (counted) the records older than max_age_ms.
  void expire(uint64_t now_ms);

  /// Calls f(record, serial) for the records with serials in [from, to) not
  /// confirmed yet, oldest first.
  template <typename F>
  void for_each(uint64_t from, uint64_t to, F&& f) const {
    for (uint64_t s = from < first_ ? first_ : from; s < to && s < next_; ++s)
      if (const Entry& e = at(s); e.state == State::kept) f(e.record, s);
  }

  uint64_t first_serial() const { return first_; }  ///< the oldest held
  uint64_t next_serial() const { return next_; }    ///< the next append's
  size_t size() const { return size_; }
  size_t bytes() const { return size_ * sizeof(Entry); }
  const ReplayStats& stats() const { return stats_; }
  void count_replayed(uint64_t records) { stats_.replayed.add(records); }

 private:
  enum class State : uint8_t { kept, confirmed, dropped };
  struct Entry {
    FlowRecord record;
    uint64_t added_ms;
    State state;
  };
  const Entry& at(uint64_t serial) const { return ring_[slot(serial - first_)]; }
  Entry& at(uint64_t serial) { return ring_[slot(serial - first_)]; }
  size_t slot(uint64_t offset) const {
    const size_t i = head_ + static_cast<size_t>(offset);
    return i < ring_.size() ? i : i - ring_.size();
  }
  /// Drops the oldest (counted as `reason`), then releases those done after it.
  void drop_front(RelaxedCounter& reason);
  /// Releases the oldest while they are confirmed or dropped.
  void release_done();
  void pop_front();
  /// Marks [begin, end) and releases the oldest while they are done.
  void mark(uint64_t begin, uint64_t end, State state);
  void publish_size() { stats_.held.store(size_, std::memory_order_relaxed); }

  ReplayBufferConfig config_;
  /// A ring grown by doubling up to max_bytes: no allocation per record, and
  /// never more memory than configured.
  std::vector<Entry> ring_;
  size_t head_ = 0;  ///< slot of the oldest
  size_t size_ = 0;
  uint64_t first_ = 0;
  uint64_t next_ = 0;
  ReplayStats stats_;
};

}  // namespace poolflow::exporter
