// Encoded IPFIX messages that the transport could not take yet (would_block),
// bounded in bytes. When full, best-effort messages go first and reliable ones
// last; template messages never (the data after them would be undecodable).
// Best-effort messages past their lifetime age out here, before they reach a
// transport that would send them anyway. Every drop is counted as not sent.
// One thread (the aggregation thread).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "export/export_stats.h"
#include "poolflow/transport.h"

namespace poolflow::exporter {

class SendQueue {
 public:
  /// `output` names the queue in warnings; drops are counted in `stats`.
  SendQueue(const std::string& output, size_t max_bytes, ExportStats& stats)
      : output_(output), max_bytes_(max_bytes), stats_(stats) {}

  bool empty() const { return queue_.empty(); }
  size_t size() const { return queue_.size(); }
  size_t bytes() const { return bytes_; }

  /// Queues a message behind the others, first making room for it.
  void push(std::span<const uint8_t> message, const MessageInfo& info,
            const MessageContent& content);

  /// Hands messages to `transport` from the head until it takes no more.
  void drain(Transport& transport);

  /// Drops every message: the transport session they were encoded for is over.
  /// Counted as not sent, but for replayable ones (exported again).
  void clear();

  /// Told of a replayable message dropped: `lost` for lack of room (counted as
  /// not sent: its records are not to be replayed either), else because the
  /// transport session failed (not counted: its records are replayed in the
  /// next one). Either way no confirmation of storage may cover it.
  std::function<void(const MessageContent&, bool lost)> on_replayable_dropped;

 private:
  struct Queued {
    std::vector<uint8_t> bytes;
    MessageInfo info;  ///< info.completed_ms: when it was queued
    MessageContent content;
  };

  void make_room(size_t bytes);
  void age_out();
  void forget(const Queued& q);  ///< takes a message leaving the queue off its totals
  void drop(std::deque<Queued>::iterator it, bool session_failed = false);

  const std::string& output_;
  const size_t max_bytes_;
  ExportStats& stats_;
  std::deque<Queued> queue_;
  size_t bytes_ = 0;
  size_t with_ttl_ = 0;            ///< messages that may age out
  uint64_t aged_out_scan_ms_ = 0;  ///< scanned for them at most once a millisecond
  uint64_t last_drop_warning_ms_ = 0;
};

}  // namespace poolflow::exporter
