// The collecting process: receives messages from every listener, decodes them
// with templates kept per transport session and observation domain (a template
// never outlives its session), counts sequence-number gaps per session, stream
// and domain as loss, counts and logs bad input, and feeds the outputs.
// Listeners call it from several threads; one lock serialises whole messages.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "collector/output.h"
#include "ipfix/message_reader.h"
#include "poolflow/listener.h"

namespace poolflow::collector {

struct CollectorConfig {
  ipfix::DecoderLimits limits;
  uint32_t max_sequence_keys = 1024;    ///< (stream, domain) pairs tracked per session
  uint32_t closed_sessions_kept = 256;  ///< closed sessions still listed in the statistics
};

/// Counters of one transport session (or of all of them).
struct ExporterStats {
  uint64_t messages = 0;
  uint64_t octets = 0;
  uint64_t records = 0;  ///< flow (non-options) data records
  uint64_t options_records = 0;
  uint64_t lost_records = 0;  ///< by sequence-number gaps (RFC 7011 §3.1)
  uint64_t gaps = 0;
  uint64_t out_of_order = 0;  ///< a message numbered before the one expected
  uint64_t discarded_messages = 0;
  uint64_t templates_added = 0;
  uint64_t templates_withdrawn = 0;
  uint64_t asap_messages = 0;  ///< ASAP (PPID 11) received on an IPFIX association
  uint64_t confirmations = 0;  ///< storage confirmations (ASAP COOKIE) sent to the exporter
  uint64_t cookie_echoes = 0;  ///< COOKIE_ECHOs: an exporter that failed over to here
  std::array<uint64_t, ipfix::kDecodeErrorCount> errors{};
  uint64_t first_message_us = 0;  ///< steady clock; 0: no message yet
  uint64_t last_message_us = 0;

  void add(const ExporterStats& other);
  /// Records per second between the first and the last message (0 if under 1 ms).
  double records_per_second() const;
};

/// Writes every template of `store` as IPFIX messages through `write` (one
/// per domain and kind of set), each numbered `sequence(domain)`.
void write_templates(const ipfix::TemplateStore& store,
                     const std::function<uint32_t(uint32_t)>& sequence,
                     const std::function<void(std::span<const uint8_t>)>& write);

class Collector final : public MessageSink {
 public:
  Collector(CollectorConfig config, std::vector<std::unique_ptr<Output>> outputs);

  void session_started(uint64_t session, const std::string& exporter) override;
  bool message(uint64_t session, uint16_t stream, std::span<const uint8_t> bytes) override;
  void control_message(uint64_t session, uint32_t ppid, std::span<const uint8_t> bytes) override;
  void session_ended(uint64_t session) override;

  /// Flushes and rotates the outputs; call about once a second.
  void tick();

  /// Writes out what the outputs hold (write(2)) and returns, for each SCTP
  /// session with records stored since its last confirmation, the ASAP COOKIE
  /// that tells its exporter where storage stands (rserpool/storage_cookie.h).
  /// `collector_pe`: this collector's PE id, 0 when not a pool element. Once
  /// an output fails to write, the sessions open then are never confirmed again.
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> storage_confirmations(
      uint32_t collector_pe);

  /// Per-session statistics and totals, several lines.
  std::string report() const;

  /// Totals over every session, open and closed.
  ExporterStats totals() const;

 private:
  struct Sequence {
    uint32_t next = 0;
    bool known = false;
    uint64_t lost_records = 0;
    uint64_t gaps = 0;
    uint64_t last_message = 0;  ///< the session's message count when it was last used
  };
  struct Session {
    std::string exporter;
    ipfix::TemplateStore templates;
    std::map<uint64_t, Sequence> sequences;  ///< by stream << 32 | domain
    ExporterStats stats;
    bool confirms = false;      ///< SCTP: storage is confirmed to the exporter
    uint64_t confirmed_at = 0;  ///< stats.messages when last confirmed
  };
  class Visitor;

  void count_sequence(Session& s, uint16_t stream, const ipfix::DecodeResult& result);
  /// The sequence number that follows the session's last message in `domain`
  /// (on any stream): what a message written next in that domain carries.
  static uint32_t next_sequence(const Session& s, uint32_t domain);
  void log_errors(uint64_t id, Session& s, const ipfix::DecodeResult& result);
  void asap_message(uint64_t id, Session& s, std::span<const uint8_t> bytes);
  void write_known_templates(const std::function<void(std::span<const uint8_t>)>& write) const;

  CollectorConfig config_;
  ipfix::MessageReader reader_;
  std::vector<std::unique_ptr<Output>> outputs_;
  KnownTemplates known_templates_;
  mutable std::mutex mutex_;
  std::map<uint64_t, Session> sessions_;
  struct ClosedSession {
    std::string exporter;
    ExporterStats stats;
    std::string stream_losses;  ///< from stream_losses()
  };
  /// "    stream S domain D: lost N in G gaps" lines of a session, the first few.
  static std::string stream_losses(const Session& s);

  std::deque<ClosedSession> closed_;
  ExporterStats older_closed_;  ///< sessions closed before the ones kept in closed_
  uint64_t closed_count_ = 0;
};

}  // namespace poolflow::collector
