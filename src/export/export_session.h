// One IPFIX transport session as the exporter sees it: its transport, its own
// templates-sent state and sequence number (RFC 7011 §10), and the message being
// built for it. The control core may replace a session (another collector)
// while workers run: a new session sends its templates again.
#pragma once

#include <cstdint>
#include <memory>

#include "ipfix/message_writer.h"
#include "poolflow/counter.h"
#include "poolflow/flow_record.h"
#include "poolflow/transport.h"

namespace poolflow::exporter {

struct SessionStats {
  RelaxedCounter messages_sent;
  RelaxedCounter octets_sent;
  RelaxedCounter records_sent;
  RelaxedCounter send_failures;  ///< messages the transport refused
  RelaxedCounter records_lost;   ///< records in those messages
};

class ExportSession {
 public:
  ExportSession(std::unique_ptr<Transport> transport, uint32_t observation_domain,
                size_t max_message_length);

  /// Adds one record to the message being built; sends the message when full.
  void add(const FlowRecord& record, uint32_t now_s);

  /// Sends the message being built, if it holds records, and flushes the transport.
  void flush(uint32_t now_s);

  const Transport& transport() const { return *transport_; }
  const SessionStats& stats() const { return stats_; }

 private:
  void send_message(uint32_t now_s);

  std::unique_ptr<Transport> transport_;
  uint32_t observation_domain_;
  ipfix::MessageWriter writer_;
  uint32_t sequence_ = 0;  ///< data records sent before the next message, mod 2^32
  bool templates_sent_ = false;
  SessionStats stats_;
};

}  // namespace poolflow::exporter
