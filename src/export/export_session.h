// One IPFIX exporting session as the exporter sees it: its transport, its
// templates-sent state and sequence numbers (RFC 7011 §10; per SCTP stream), the
// messages being built for it, and a bounded queue for when the transport
// cannot take more. The control core may replace the transport (another
// collector) while workers and the aggregation thread run: the new transport
// session starts with templates and sequence numbers from zero.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ipfix/message_writer.h"
#include "poolflow/clock.h"
#include "poolflow/counter.h"
#include "poolflow/flow_record.h"
#include "poolflow/transport.h"

namespace poolflow::exporter {

/// What the Metering Process observed but did not meter (RFC 7011 §4.2).
struct MeteringReliability {
  uint64_t ignored_packets = 0;
  uint64_t ignored_octets = 0;
  uint64_t first_ignored_ms = 0;  ///< ms since the epoch; 0 while nothing was ignored
  uint64_t last_ignored_ms = 0;
};

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

struct ExportSessionConfig {
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
};

struct SessionStats {
  RelaxedCounter messages_sent;
  RelaxedCounter octets_sent;
  RelaxedCounter records_sent;
  RelaxedCounter template_messages_sent;
  /// Dropped here, refused by the transport, or held by it and then dropped (notSent...)
  RelaxedCounter records_not_sent;
  RelaxedCounter packets_not_sent;  ///< their packetDeltaCount sum
  RelaxedCounter octets_not_sent;   ///< their octetDeltaCount sum
  RelaxedCounter messages_not_sent;
  RelaxedCounter reliable_records_not_sent;  ///< of records_not_sent, those marked reliable
  RelaxedCounter transport_sessions;  ///< transport sessions started (1 + reconnects/replacements)
};

class ExportSession {
 public:
  ExportSession(std::unique_ptr<Transport> transport, ExportSessionConfig config);
  /// A session whose first transport the control core hands over later
  /// (replace_transport): a collector not reached yet, or not even resolved.
  /// Until then its records wait as records, not messages, in a backlog of at
  /// most send_queue_bytes; beyond that they are counted as not sent.
  ExportSession(std::string output, ExportSessionConfig config);
  ~ExportSession();

  /// Adds one record to the message being built for its class; sends the
  /// message when full. Aggregation thread only.
  void add(const FlowRecord& record, uint32_t now_s);

  /// Sends partly filled messages, retries queued ones, drops expired
  /// best-effort ones, flushes the transport. Aggregation thread only.
  void flush(uint32_t now_s);

  /// Retries the messages the transport refused earlier and lets a transport
  /// that holds messages hand them on (Transport::poll). Aggregation thread only.
  void send_queued() {
    if (!queue_.empty()) drain_queue();
    transport_->poll();
  }

  /// At shutdown: sends everything and waits, until `deadline_ms` (steady_ms())
  /// at most, until the queue is empty and the transport drained. A session
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
  const SessionStats& stats() const { return stats_; }
  uint64_t abandoned_by_transport() const { return abandoned_by_transport_.load(); }
  /// Octets of messages waiting for the transport (aggregation thread only).
  size_t queued_bytes() const { return queued_bytes_; }

 private:
  static constexpr size_t kStreams = 3;  ///< 0: templates (if so configured), 1, 2: data
  /// What a message carries, for the statistics of what was (not) sent.
  struct Content {
    uint32_t records = 0;
    uint64_t packets = 0;
    uint64_t octets = 0;
  };
  struct Channel {
    ipfix::MessageWriter writer;
    MessageInfo info;
    /// The templates of this channel's records, as in ipfix::flow_templates()
    /// (their ids moved by kPartialTemplateOffset for the partial class on SCTP).
    std::array<ipfix::Template, 4> templates;
    Content content;  ///< of the message being built
  };
  struct Queued {
    std::vector<uint8_t> bytes;
    MessageInfo info;
    Content content;
    uint64_t queued_ms;
  };

  ExportSession(std::unique_ptr<Transport> transport, ExportSessionConfig config, bool awaiting);
  void adopt_new_transport();
  /// Awaiting: takes the first transport if it was handed over, and sends the
  /// backlog on it; false while there is none.
  bool take_first_transport(uint32_t now_s);
  void hold(const FlowRecord& record);
  void start_transport_session();
  Channel& channel_for(const FlowRecord& record);
  uint16_t template_stream(const Channel& channel) const;
  void send_templates(uint16_t stream, uint32_t now_s);
  void send_data(Channel& channel, uint32_t now_s);
  void submit(std::span<const uint8_t> message, const MessageInfo& info, const Content& content);
  void send_statistics(uint32_t now_s);
  void drain_queue();
  void age_out();
  void forget(const Queued& q);  ///< takes a message leaving the queue off its totals
  void drop_queued(std::deque<Queued>::iterator it);
  void make_room(size_t bytes);
  void count_not_sent(const MessageInfo& info, const Content& content);
  /// Counts what became of the messages the transport held since the last call.
  void collect_held_outcome();

  std::unique_ptr<Transport> transport_;
  const std::string output_;
  std::atomic<bool> awaiting_{false};
  std::vector<FlowRecord> backlog_;  ///< records that came while awaiting
  std::atomic<Transport*> incoming_{nullptr};
  std::atomic<bool> transport_up_{true};
  ExportSessionConfig config_;
  TransportTraits traits_;
  uint32_t epoch_ = 0;
  std::array<Channel, 2> channels_;  ///< TCP flows, other flows
  /// Per stream (all 0 without streams): data records sent before the next message.
  std::array<uint32_t, kStreams> sequence_{};
  std::array<bool, kStreams> templates_sent_{};
  ipfix::MessageWriter templates_writer_;
  uint64_t templates_sent_ms_ = 0;
  bool statistics_template_sent_ = false;
  uint64_t statistics_sent_ms_ = 0;
  uint32_t messages_since_templates_ = 0;
  std::deque<Queued> queue_;
  size_t queued_bytes_ = 0;
  size_t queued_with_ttl_ = 0;     ///< messages in queue_ that may age out
  uint64_t aged_out_scan_ms_ = 0;  ///< the queue is scanned for them at most once a millisecond
  uint64_t last_drop_warning_ms_ = 0;
  SessionStats stats_;
  /// When a flow record was first and last not sent, here or by the transport
  /// (Exporting Process Reliability record).
  TimeWindow not_sent_window_;
  uint64_t abandoned_by_old_transports_ = 0;
  HeldOutcome held_seen_;  ///< the transport's held_outcome() at the last collect
  std::atomic<uint64_t> abandoned_by_transport_{0};
};

}  // namespace poolflow::exporter
