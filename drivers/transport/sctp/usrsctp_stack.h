// The process's one usrsctp stack (usrsctp_init runs once per process) and
// what every SCTP socket of poolflow shares: addresses, socket options and the
// contexts that usrsctp callbacks point at.
#pragma once

#include <usrsctp.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace poolflow::transport::sctp {

/// Starts usrsctp on the first call: with UDP encapsulation (RFC 6951) on local
/// UDP port `udp_port` (0: a free port is chosen), or raw IP when `raw_ip`.
/// Later calls must not ask for another mode or a different non-zero port
/// (std::runtime_error). Returns the local UDP encapsulation port (0 for raw IP).
uint16_t start_usrsctp(uint16_t udp_port, bool raw_ip);

/// Sets one SCTP-level option; throws std::runtime_error naming it on failure.
void set_option(struct socket* sock, int option, const void* value, socklen_t length,
                const char* name);

/// Asks for the notifications this module handles (association changes,
/// shutdown) to be delivered to the receive callback; with `sender`, also those
/// an exporter needs to account for what it sent (messages given back
/// undelivered, SEND_FAILED) and to log path changes (PEER_ADDR_CHANGE).
void subscribe_events(struct socket* sock, bool sender = false);

/// How fast a dead peer is noticed (testbed.md: ~0.1 s loaded, ~0.3 s idle with
/// 60/40/160 ms, 3 retransmissions, heartbeats every 100 ms).
struct Liveness {
  uint32_t rto_initial_ms;
  uint32_t rto_min_ms;
  uint32_t rto_max_ms;
  uint16_t max_retransmissions;  ///< association and path
  uint32_t heartbeat_interval_ms;
};

/// Short RTOs, few retransmissions and heartbeats; set before connect.
void set_liveness(struct socket* sock, const Liveness& l);

/// Sets the socket's remote UDP encapsulation port (RFC 6951).
void set_remote_udp_port(struct socket* sock, int family, uint16_t port);

/// Aborts association `id` of a one-to-many socket; false (errno set) when
/// usrsctp refuses.
bool abort_association(struct socket* sock, sctp_assoc_t id);

/// usrsctp's receive callback for a socket whose ulp_info is a `Context` with
/// on_notification(const sctp_notification&) and on_data(data, length, info,
/// flags): notifications and data go to it; the buffer is freed here.
template <class Context>
int receive_into(struct socket*, union sctp_sockstore, void* data, size_t length,
                 struct sctp_rcvinfo info, int flags, void* context) {
  if (data == nullptr) return 1;
  auto* c = static_cast<Context*>(context);
  if (flags & MSG_NOTIFICATION) {
    if (length >= sizeof(sctp_notification::sctp_tlv))
      c->on_notification(*static_cast<const sctp_notification*>(data));
  } else {
    c->on_data(static_cast<const uint8_t*>(data), length, info, flags);
  }
  std::free(data);
  return 1;
}

}  // namespace poolflow::transport::sctp
