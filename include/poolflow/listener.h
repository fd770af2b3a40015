// The receiving side of the transports, for collectors: a Listener accepts
// transport sessions (SCTP associations, TCP connections, UDP exporters) and
// hands every whole IPFIX message to a MessageSink. Listeners call the sink from
// their own threads (usrsctp's, or one thread per TCP/UDP listener), so a sink
// must be thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace poolflow {
/// SCTP payload protocol identifier of ASAP (RFC 5352 §5.1).
inline constexpr uint32_t kSctpPpidAsap = 11;
}  // namespace poolflow

namespace poolflow {

class MessageSink {
 public:
  virtual ~MessageSink() = default;

  /// A new transport session; `exporter` names it, e.g. "sctp 127.0.0.1:40123 assoc 3".
  virtual void session_started(uint64_t session, const std::string& exporter) = 0;

  /// One IPFIX message of `session` (exactly what arrived; it may be malformed).
  /// Returns false when the session is to be closed (RFC 7011 §10: a malformed
  /// message over SCTP or TCP).
  virtual bool message(uint64_t session, uint16_t stream, std::span<const uint8_t> bytes) = 0;

  /// A message of another protocol on the session's association: over SCTP,
  /// ASAP (PPID 11) between exporter and collector rides the IPFIX
  /// association. Not IPFIX, so never taken for malformed IPFIX.
  virtual void control_message(uint64_t session, uint32_t ppid, std::span<const uint8_t> bytes) = 0;

  /// The session ended; its templates die with it.
  virtual void session_ended(uint64_t session) = 0;
};

struct ListenerOptions {
  uint16_t sctp_udp_port = 9899;  ///< local UDP encapsulation port (RFC 6951)
  bool sctp_raw_ip = false;
  uint16_t sctp_streams = 64;          ///< inbound streams accepted per association
  uint32_t receive_buffer_kib = 4096;  ///< per socket
  uint32_t max_sessions = 1024;  ///< per listener; more are refused (TCP, SCTP) or dropped (UDP)
  /// UDP: an exporter silent this long has ended its session (its templates
  /// expire: RFC 7011 §8.4 suggests 3 × templateRefreshTimeout).
  uint32_t udp_idle_timeout_s = 1800;
};

class Listener {
 public:
  virtual ~Listener() = default;
  /// What it listens on, e.g. "sctp 127.0.0.1:4739 (UDP encapsulation 9899)".
  virtual const std::string& description() const = 0;

  /// Sends a message of another protocol (`ppid`: ASAP) to the exporter of
  /// `session`, on its association. False when the session is not this
  /// listener's, has ended, or its transport cannot carry it (TCP, UDP). Never
  /// waits on the network.
  virtual bool send_control(uint64_t session, uint32_t ppid, std::span<const uint8_t> bytes) {
    (void)session, (void)ppid, (void)bytes;
    return false;
  }
};

/// Opens "sctp:HOST:PORT", "tcp:HOST:PORT" or "udp:HOST:PORT". Throws std::invalid_argument for a
/// bad specification and std::runtime_error when it cannot listen.
std::unique_ptr<Listener> open_listener(const std::string& spec, const ListenerOptions& options,
                                        MessageSink& sink);

/// A session id no other listener of this process has given out.
uint64_t next_session_id();

}  // namespace poolflow
