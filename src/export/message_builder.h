// The IPFIX side of one transport session (RFC 7011 §10): the messages being
// built for each reliability class, the templates sent on each stream, and the
// sequence numbers (per SCTP stream). No I/O: finished messages go to a
// MessageSink; the exporter decides where they go. A new transport session
// (start()) starts with templates and sequence numbers from zero, while the
// records already in the messages being built keep their place.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "export/export_stats.h"
#include "ipfix/message_writer.h"
#include "ipfix/template.h"
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

class MessageSink {
 public:
  /// A finished message (templates, data or statistics).
  virtual void submit(std::span<const uint8_t> message, const MessageInfo& info,
                      const MessageContent& content) = 0;
  /// Before a data message is finished: the last moment to start a new
  /// transport session (MessageBuilder::start) for it.
  virtual void before_data_message() = 0;

 protected:
  ~MessageSink() = default;
};

struct MessageBuilderConfig {
  uint32_t observation_domain = 1;
  size_t max_message_length = 1400;
  ReliabilityPolicy tcp_flows;            ///< data records of TCP flows
  ReliabilityPolicy other_flows;          ///< every other flow (UDP, ICMP, ...)
  bool templates_on_stream_zero = false;  ///< SCTP: else on their data's stream (RFC 6526)
};

class MessageBuilder {
 public:
  /// Template messages are counted in `stats`.
  MessageBuilder(const MessageBuilderConfig& config, MessageSink& sink, ExportStats& stats);

  /// A new transport session on a transport that can do `traits`.
  void start(const TransportTraits& traits);

  static constexpr uint64_t kNoSerial = ~uint64_t{0};

  /// Adds one record to the message being built for its class; a full message
  /// is finished first (after the templates its stream still lacks). `serial`:
  /// its place in the replay buffer of its class, if it is kept there;
  /// `replayed`: exported again after a failover (kReplayTemplateOffset).
  void add(const FlowRecord& record, uint32_t now_s, uint64_t serial = kNoSerial,
           bool replayed = false);

  /// The class of a record: 0 TCP flows, 1 the others.
  static size_t class_of(const FlowRecord& record);

  /// Finishes the partly filled messages.
  void flush(uint32_t now_s);

  /// Finishes a message of options records, reliably on stream 0: what this
  /// exporter sent (Metering Process Statistics, RFC 7011 §4.1) and did not
  /// send (Exporting Process Reliability Statistics, §4.3), and with `metering`
  /// what the Metering Process did not meter (§4.2).
  void send_statistics(const ExportStats& stats, const MeteringReliability* metering,
                       uint32_t now_s);

  /// The reliability class `record` is exported with in this transport session.
  const ReliabilityPolicy& policy_of(const FlowRecord& record) const {
    return channel_for(record).info.policy;
  }
  /// As configured, whatever the transport can express.
  bool configured_reliable(const FlowRecord& record) const;

 private:
  static constexpr size_t kStreams = 3;  ///< 0: templates (if so configured), 1, 2: data
  struct Channel {
    ipfix::MessageWriter writer;
    MessageInfo info;
    /// The templates of this channel's records, as in ipfix::flow_templates()
    /// (their ids moved by kPartialTemplateOffset for the partial class on SCTP).
    std::array<ipfix::Template, 4> templates;
    std::array<ipfix::Template, 4> replay_templates;  ///< templates + kReplayTemplateOffset
    bool replay_templates_sent = false;               ///< in this transport session
    bool has_replayed = false;                        ///< in the message being built
    MessageContent content;                           ///< of the message being built
  };

  Channel& channel_for(const FlowRecord& record);
  const Channel& channel_for(const FlowRecord& record) const;
  uint16_t template_stream(const Channel& channel) const;
  void send_templates(uint16_t stream, uint32_t now_s);
  void send_replay_templates(Channel& channel, uint32_t now_s);
  /// A template message of `templates` on `stream`, with their reliability
  /// records over SCTP.
  void send_template_message(uint16_t stream, std::span<const ipfix::Template* const> templates,
                             std::span<const bool> reliable, uint32_t now_s);
  void send_data(Channel& channel, uint32_t now_s);

  MessageBuilderConfig config_;
  MessageSink& sink_;
  ExportStats& stats_;
  TransportTraits traits_;
  std::array<Channel, 2> channels_;  ///< TCP flows, other flows
  /// Per stream (all 0 without streams): data records sent before the next message.
  std::array<uint32_t, kStreams> sequence_{};
  std::array<bool, kStreams> templates_sent_{};
  ipfix::MessageWriter options_writer_;  ///< template and statistics messages
  uint64_t templates_sent_ms_ = 0;
  bool statistics_template_sent_ = false;
  uint32_t messages_since_templates_ = 0;
};

}  // namespace poolflow::exporter
