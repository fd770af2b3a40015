// One output's Exporting Process: the flow records for one collector at a time,
// made into IPFIX messages (MessageBuilder: templates, sequence numbers), queued
// when the transport cannot take them (SendQueue), and sent on the transport
// the control core handed over. The control core may replace the transport
// (another collector) while workers and the aggregation thread run: the new
// transport session starts with templates and sequence numbers from zero.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "export/export_stats.h"
#include "export/message_builder.h"
#include "export/replay_buffer.h"
#include "export/send_queue.h"
#include "poolflow/clock.h"
#include "poolflow/flow_record.h"
#include "poolflow/transport.h"

namespace poolflow::exporter {

/// The latest MeteringReliability, published by the control core (the one
/// writer) and read by the aggregation thread without a lock: a sequence number
/// odd while a publication is under way, which the reader retries on (seqlock).
class MeteringSnapshot {
 public:
  void publish(const MeteringReliability& m);
  MeteringReliability read() const;

 private:
  std::atomic<uint32_t> sequence_{0};
  std::atomic<uint64_t> ignored_packets_{0}, ignored_octets_{0}, first_ms_{0}, last_ms_{0};
};

struct ExporterConfig {
  uint32_t observation_domain = 1;
  size_t max_message_length = 1400;
  ReliabilityPolicy tcp_flows;              ///< data records of TCP flows
  ReliabilityPolicy other_flows;            ///< every other flow (UDP, ICMP, ...)
  bool templates_on_stream_zero = false;    ///< SCTP: else on their data's stream (RFC 6526)
  size_t send_queue_bytes = 4 << 20;        ///< messages waiting for the transport, at most
  uint32_t close_timeout_ms = 2000;         ///< close(): how long to wait for the transport
  uint32_t statistics_interval_ms = 60000;  ///< Exporting Process Reliability record; 0: never
  /// Read when statistics records go out; when set, a Metering Process
  /// Reliability record goes with them.
  std::shared_ptr<const MeteringSnapshot> metering_reliability;
  /// Reliable records kept until the collector confirms their storage, per
  /// reliability class (replay_buffer.h); 0 bytes: none kept.
  size_t replay_buffer_bytes = 0;
  uint32_t replay_buffer_ms = 60000;
};

/// The replay buffers of an exporter together; any thread.
struct ReplayTotals {
  uint64_t held = 0, confirmed = 0, replayed = 0, evicted_full = 0, evicted_old = 0;
};

class Exporter final : MessageSink {
 public:
  Exporter(std::unique_ptr<Transport> transport, ExporterConfig config);
  /// An exporter whose first transport the control core hands over later
  /// (replace_transport): a collector not reached yet, or not even resolved.
  /// Until then its records wait as records, not messages, in a backlog of at
  /// most send_queue_bytes; beyond that they are counted as not sent.
  Exporter(std::string output, ExporterConfig config);
  ~Exporter();

  /// Adds one record to the message being built for its class; sends the
  /// message when full. Aggregation thread only.
  void add(const FlowRecord& record, uint32_t now_s);

  /// Sends partly filled messages, retries queued ones, drops expired
  /// best-effort ones, flushes the transport. Aggregation thread only.
  void flush(uint32_t now_s);

  /// Retries the messages the transport refused earlier and lets a transport
  /// that holds messages hand them on (Transport::poll). Aggregation thread only.
  void send_queued(uint32_t now_s) {
    if (!queue_.empty()) queue_.drain(*transport_);
    transport_->poll();
    take_control_messages();
    if (replay_pending_) replay_slice(now_s);
  }

  /// At shutdown: sends everything and waits, until `deadline_ms` (steady_ms())
  /// at most, until the queue is empty and the transport drained. An exporter
  /// still awaiting its first transport with records held waits for it as long,
  /// as the control core may be reaching a collector. Aggregation thread only.
  void close(uint32_t now_s, uint64_t deadline_ms);
  void close(uint32_t now_s) { close(now_s, steady_ms() + config_.close_timeout_ms); }
  uint32_t close_timeout_ms() const { return config_.close_timeout_ms; }

  /// Hands over a new transport (any thread, e.g. the control core); the
  /// aggregation thread switches to it at its next message or flush and closes
  /// the old one. Messages still queued for the old one are counted as not sent;
  /// those it holds (Transport::abandon()) are handed on or counted as not sent.
  void replace_transport(std::unique_ptr<Transport> transport);

  /// True until the first transport is taken over; any thread.
  bool awaiting_transport() const { return awaiting_.load(std::memory_order_relaxed); }

  /// The output as configured ("sctp:HOST:PORT", "pool:HANDLE"); any thread.
  const std::string& output() const { return output_; }

  /// Whether the transport had a session at the last flush (an SCTP association
  /// up, a TCP connection); any thread.
  bool transport_up() const { return transport_up_.load(std::memory_order_relaxed); }

  /// A transport handed over by replace_transport() not yet taken; any thread.
  bool replacement_pending() const { return incoming_.load() != nullptr; }

  /// The transport in use; read it from the aggregation thread or once it stopped.
  const Transport& transport() const { return *transport_; }
  const ExportStats& stats() const { return stats_; }
  uint64_t abandoned_by_transport() const { return abandoned_by_transport_.load(); }
  /// Octets of messages waiting for the transport (aggregation thread only).
  size_t queued_bytes() const { return queue_.bytes(); }

  /// The collector stored every record of this transport session on `stream`
  /// before `next_sequence` (RFC 7011 sequence numbers): their records leave the
  /// replay buffer. Aggregation thread only.
  void confirm_stored(uint16_t stream, uint32_t next_sequence);

  bool replays() const { return replay_[0] != nullptr || replay_[1] != nullptr; }
  ReplayTotals replay_totals() const;

 private:
  Exporter(std::unique_ptr<Transport> transport, ExporterConfig config, bool awaiting);

  // MessageSink
  void submit(std::span<const uint8_t> message, const MessageInfo& info,
              const MessageContent& content) override;
  void before_data_message() override;

  void adopt_new_transport();
  /// Awaiting: takes the first transport if it was handed over, and sends the
  /// backlog on it; false while there is none.
  bool take_first_transport(uint32_t now_s);
  void hold(const FlowRecord& record);
  void start_transport_session();
  void send_statistics(uint32_t now_s);
  /// Counts what became of the messages the transport held since the last call.
  void collect_held_outcome();
  /// Exports again, in slices, the records kept from earlier transport sessions.
  void replay_slice(uint32_t now_s);
  void forget_sent(const MessageContent& content);
  /// Whether this transport session's collector confirms storage at all.
  bool storage_confirmations_seen() const { return replays() && session_confirms_; }
  /// ASAP from the collector: its storage confirmations (COOKIE).
  void take_control_messages();

  std::unique_ptr<Transport> transport_;
  const std::string output_;
  ExporterConfig config_;
  ExportStats stats_;
  MessageBuilder builder_;
  SendQueue queue_;
  std::atomic<bool> awaiting_{false};
  std::vector<FlowRecord> backlog_;  ///< records that came while awaiting
  std::atomic<Transport*> incoming_{nullptr};
  std::atomic<bool> transport_up_{true};
  uint32_t epoch_ = 0;
  uint64_t statistics_sent_ms_ = 0;
  uint64_t last_drop_warning_ms_ = 0;
  uint64_t abandoned_by_old_transports_ = 0;
  HeldOutcome held_seen_;  ///< the transport's held_outcome() at the last collect
  std::atomic<uint64_t> abandoned_by_transport_{0};

  // Replay (per reliability class; null: not kept).
  std::array<std::unique_ptr<ReplayBuffer>, 2> replay_;
  /// Past the last record handed on in a message, per class.
  std::array<uint64_t, 2> submitted_end_{};
  /// The records of earlier transport sessions still to be exported again:
  /// [cursor, to) per class.
  std::array<uint64_t, 2> replay_cursor_{}, replay_to_{};
  bool replay_pending_ = false;
  /// Replayable messages of this transport session, in the order sent, for
  /// confirmations of storage.
  struct SentMessage {
    uint16_t stream;
    uint8_t channel;
    uint32_t sequence_end;
    uint64_t replay_begin, replay_end;
  };
  std::deque<SentMessage> sent_;
  uint64_t now_ms_ = 0;  ///< steady_ms() at the last flush: the replay buffers' clock
  uint64_t evicted_warned_ = 0;
  std::vector<uint8_t> control_;      ///< a control message being read
  std::vector<uint8_t> last_cookie_;  ///< the latest COOKIE: echoed to the next collector
  bool session_confirms_ = false;     ///< a storage cookie came in this transport session
};

}  // namespace poolflow::exporter
