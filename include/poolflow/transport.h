// The transport interface: where finished IPFIX messages go, and where a
// collector's come from. One implementation per way out (drivers/transport/*):
// RFC 5655 file, SCTP (usrsctp, PR-SCTP), TCP and UDP.
// A Transport is one transport session in RFC 7011's sense: templates sent on it
// belong to it, and a new session starts with templates again (session_epoch()).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace poolflow {

/// How an SCTP message may be abandoned (RFC 3758, RFC 7496 policies).
enum class Reliability : uint8_t {
  reliable,  ///< never abandoned
  ttl,       ///< abandoned once older than `value` milliseconds
  rtx,       ///< abandoned after `value` retransmissions ("limited retransmission")
};

/// A reliability class as written in conf files: "reliable", "ttl:MS" or "rtx:N".
struct ReliabilityPolicy {
  Reliability kind = Reliability::reliable;
  uint32_t value = 0;
  bool operator==(const ReliabilityPolicy&) const = default;
};

/// Parses "reliable", "ttl:MS" (1..600000) or "rtx:N" (0..100); an empty string
/// in `error` on success, otherwise what is wrong.
ReliabilityPolicy parse_reliability(const std::string& text, std::string& error);

/// Per-message metadata. Transports without streams or partial reliability
/// (file, TCP, UDP) ignore what they cannot express.
struct MessageInfo {
  uint16_t stream = 0;
  ReliabilityPolicy policy;
  bool templates = false;  ///< holds template sets only (always sent reliably)
  /// Its records are kept by the exporter until the collector confirms them:
  /// a message dropped with its transport session is no loss (they are
  /// exported again in the next one), and is not counted as not sent.
  bool replayable = false;
  /// When the exporter completed the message (steady_ms(); 0: never aged
  /// there), so that a transport that holds messages (SCTP with
  /// sack_clocked_sends) drops a ttl message older than its lifetime too; and
  /// what it carries, for HeldOutcome.
  uint64_t completed_ms = 0;
  uint32_t records = 0;
  uint64_t packets = 0;
  uint64_t octets = 0;
};

/// What became of the messages a transport held (SendResult::held): handed on
/// to the network, or dropped before that (their PR-SCTP lifetime ran out while
/// held, the association failed, the transport was abandoned). Totals since the
/// transport was opened.
struct HeldOutcome {
  uint64_t sent_messages = 0;
  uint64_t sent_bytes = 0;
  uint64_t sent_records = 0;
  uint64_t dropped_messages = 0;
  uint64_t dropped_records = 0;
  uint64_t dropped_packets = 0;
  uint64_t dropped_octets = 0;
  uint64_t dropped_reliable_records = 0;
  /// unix_ms() of the first and the last flow record dropped; 0: none
  uint64_t first_dropped_ms = 0;
  uint64_t last_dropped_ms = 0;
  /// Records of messages counted as sent (SendResult::sent, or sent_messages
  /// above) that the transport later gave back undelivered (SCTP SEND_FAILED:
  /// the association failed, or a PR-SCTP lifetime ran out). Counted apart:
  /// they stay in sent_*, and may or may not have arrived.
  uint64_t returned_records = 0;
};

enum class SendResult : uint8_t {
  sent,         ///< handed to the transport (for SCTP/TCP: in its send buffer)
  held,         ///< taken: the transport sends it later and tells how in held_outcome()
  would_block,  ///< not taken now, nothing of it sent: try again later
  failed,       ///< lost (no session, or an error): do not retry
};

/// What a transport can do; decides how an exporter numbers and repeats.
struct TransportTraits {
  bool streams = false;                    ///< SCTP: sequence numbers per stream (RFC 7011 §10.2)
  uint16_t stream_count = 0;               ///< SCTP: outbound streams the peer granted
  uint32_t template_refresh_ms = 0;        ///< UDP: resend templates this often (0: never)
  uint32_t template_refresh_messages = 0;  ///< UDP: and every this many messages (0: never)
};

/// Settings of the network transports, from the conf file.
struct TransportOptions {
  struct Sctp {
    uint16_t local_udp_port = 0;      ///< UDP encapsulation port of this process; 0: a free one
    uint16_t remote_udp_port = 9899;  ///< the collector's UDP encapsulation port
    bool raw_ip = false;              ///< no UDP encapsulation (root; see the sctp README)
    uint16_t streams = 16;            ///< outgoing streams requested
    uint32_t rto_initial_ms = 60;
    uint32_t rto_min_ms = 40;
    uint32_t rto_max_ms = 160;
    uint16_t max_retransmissions = 3;  ///< association and path (dead peer after that)
    uint32_t heartbeat_interval_ms = 100;
    uint32_t connect_timeout_ms = 3000;
    uint32_t send_buffer_kib = 4096;
    uint32_t reconnect_interval_s = 5;  ///< a lost association is reopened this often; 0: never
    /// Messages wait in a ring of the transport (256 at most) and usrsctp's
    /// receive thread hands them to usrsctp_sendv whenever a SACK freed room, so
    /// that the sending thread does not contend with it for the association's
    /// lock; false: send() calls usrsctp_sendv itself.
    bool sack_clocked_sends = true;
    bool operator==(const Sctp&) const = default;
  } sctp;
  struct Tcp {
    uint32_t reconnect_interval_s = 60;  ///< first wait before reconnecting (RFC 7011 §10.4)
    uint32_t reconnect_max_s = 480;      ///< back-off doubles up to this
    uint32_t send_buffer_kib = 4096;
    bool operator==(const Tcp&) const = default;
  } tcp;
  struct Udp {
    uint32_t template_refresh_s = 600;       ///< templateRefreshTimeout (RFC 7011 §10.3.6)
    uint32_t template_refresh_messages = 0;  ///< also every N messages; 0: only by time
    uint32_t send_buffer_kib = 4096;
    bool operator==(const Udp&) const = default;
  } udp;
  uint32_t max_message_size = 1400;  ///< path MTU budget for one IPFIX message
  bool operator==(const TransportOptions&) const = default;
};

class Transport {
 public:
  virtual ~Transport() = default;

  /// Sends one whole IPFIX message without waiting on the network.
  virtual SendResult send(std::span<const uint8_t> message, const MessageInfo& info) = 0;

  /// Pushes out anything buffered (to the disk, onto the wire); also where a
  /// transport that reconnects does so. Never waits on the network.
  virtual bool flush() = 0;

  /// The output as the user wrote it, e.g. "sctp:127.0.0.1:4739".
  virtual const std::string& name() const = 0;

  virtual TransportTraits traits() const { return {}; }

  /// Changes whenever the transport starts a new transport session (TCP
  /// reconnect): the caller then sends templates again and restarts sequences.
  virtual uint32_t session_epoch() const { return 0; }

  /// True once everything accepted has left this process and, where the
  /// protocol says so, been acknowledged by the peer (SCTP, TCP). Never waits.
  virtual bool drained() const { return true; }

  /// Messages the transport itself gave up on after accepting them (PR-SCTP
  /// abandonment, TCP data lost with a connection).
  virtual uint64_t abandoned_messages() const { return 0; }

  /// What became of the messages it held so far (see HeldOutcome); any thread.
  virtual HeldOutcome held_outcome() const { return {}; }

  /// Called by the sending thread when it has nothing else to do: a transport
  /// that holds messages hands them on. Never waits on the network.
  virtual void poll() {}

  /// Before the transport is closed or replaced: one last try to hand on what it
  /// holds, then the rest is dropped (and counted in held_outcome()). Never waits
  /// on the network (SCTP: it may wait for usrsctp's receive thread to finish a
  /// hand-over of its own).
  virtual void abandon() {}

  /// A message of another protocol the peer sent on this transport session
  /// (SCTP: ASAP on PPID 11, such as a collector's storage confirmation); false
  /// when none waits. The sending thread.
  virtual bool receive_control(std::vector<uint8_t>& message) {
    (void)message;
    return false;
  }

  /// Sends a message of another protocol (`ppid`) on this transport session,
  /// ahead of what the transport holds; false when it cannot (no such protocol
  /// on this transport, no session). The sending thread; never waits.
  virtual bool send_control(std::span<const uint8_t> message, uint32_t ppid) {
    (void)message, (void)ppid;
    return false;
  }

  /// False while a transport opened with Connect::start is still connecting
  /// (SCTP: the association handshake); true once it can send. Throws
  /// std::runtime_error when connecting failed or took longer than its timeout.
  /// Never waits.
  virtual bool connected() { return true; }
};

/// Whether open_transport() waits for a handshake (SCTP) or only starts it.
enum class Connect : uint8_t { wait, start };

/// Told, from whichever thread notices (usrsctp's, for SCTP), when a transport's
/// session comes up (true) or goes down (false), so that the control core learns
/// of it from its event queue rather than by polling. Only SCTP tells today.
using TransportEvents = std::function<void(bool up)>;

/// Parses an output specification ("file:PATH", "sctp:HOST:PORT", "tcp:HOST:PORT",
/// "udp:HOST:PORT") and opens it. Throws std::invalid_argument for a malformed or
/// unsupported specification and std::system_error / std::runtime_error when the
/// output cannot be opened (SCTP: no association within connect_timeout_ms).
/// Connect::start returns as soon as the SCTP handshake is started: poll
/// Transport::connected() (the other kinds are ready at once).
std::unique_ptr<Transport> open_transport(const std::string& spec,
                                          const TransportOptions& options = {},
                                          Connect connect = Connect::wait,
                                          TransportEvents events = {});

/// Checks an output specification without opening it; returns an empty string
/// when it is valid, otherwise what is wrong with it.
std::string validate_transport_spec(const std::string& spec);

/// "HOST:PORT" (HOST may be "[v6]") split and checked; false with `error` set
/// when malformed.
bool split_host_port(const std::string& where, std::string& host, uint16_t& port,
                     std::string& error);

}  // namespace poolflow
