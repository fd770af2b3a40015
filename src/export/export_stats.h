// What one exporter sent and did not send, counted where it happens (the
// message builder's sink, the send queue, the transport's held messages) and
// read by any thread (progress lines, the exit summary, the statistics records).
#pragma once

#include <cstdint>

#include "poolflow/clock.h"
#include "poolflow/counter.h"
#include "poolflow/flow_record.h"
#include "poolflow/transport.h"

namespace poolflow::exporter {

/// What an IPFIX message carries, for the statistics of what was (not) sent.
struct MessageContent {
  uint32_t records = 0;
  uint64_t packets = 0;
  uint64_t octets = 0;
  /// Serials of its records kept in the replay buffer of its class: [begin, end)
  /// (empty: none), and the class and the sequence number after it on its stream,
  /// by which a confirmation of storage is matched to them.
  uint64_t replay_begin = 0;
  uint64_t replay_end = 0;
  uint32_t sequence_end = 0;
  uint8_t channel = 0;
};

struct ExportStats {
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
  /// Of records_sent, those the transport gave back undelivered after taking
  /// them (SCTP SEND_FAILED: the association failed with them in its buffer,
  /// or PR-SCTP gave up on them); they may or may not have arrived.
  RelaxedCounter records_returned;
  RelaxedCounter transport_sessions;  ///< transport sessions started (1 + reconnects/replacements)
  RelaxedCounter storage_confirmations;  ///< COOKIEs from the collector: what it stored
  RelaxedCounter cookie_echoes;          ///< COOKIE_ECHOs sent to a new collector

  /// When a flow record was first and last not sent, here or by the transport
  /// (Exporting Process Reliability record). The exporter's thread only.
  TimeWindow not_sent_window;

  void sent(size_t bytes, const MessageContent& content) {
    messages_sent.add();
    octets_sent.add(bytes);
    records_sent.add(content.records);
  }

  void not_sent(const MessageInfo& info, const MessageContent& content) {
    messages_not_sent.add();
    count_records_not_sent(content, info.policy.kind == Reliability::reliable);
  }

  /// A record dropped before it was put in a message.
  void record_not_sent(const FlowRecord& record, bool reliable) {
    count_records_not_sent({1, record.packets, record.octets}, reliable);
  }

 private:
  void count_records_not_sent(const MessageContent& content, bool reliable) {
    records_not_sent.add(content.records);
    packets_not_sent.add(content.packets);
    octets_not_sent.add(content.octets);
    if (reliable) reliable_records_not_sent.add(content.records);
    if (content.records != 0) not_sent_window.note(unix_ms());  // templates, statistics: no flow
  }
};

}  // namespace poolflow::exporter
