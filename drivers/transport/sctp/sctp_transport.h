// IPFIX over SCTP (RFC 7011 §10.2) through usrsctp: one association per
// transport session, UDP encapsulation by default, PR-SCTP per message.
#pragma once

#include <usrsctp.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "poolflow/transport.h"

namespace poolflow::transport {

class SctpTransport final : public Transport {
 public:
  /// Connects to HOST:PORT. Connect::wait waits (at most
  /// options.sctp.connect_timeout_ms) for the association and throws
  /// std::runtime_error when there is none; Connect::start returns at once and
  /// connected() tells.
  SctpTransport(std::string name, const std::string& host, uint16_t port,
                const TransportOptions& options, Connect connect = Connect::wait,
                TransportEvents events = {});
  ~SctpTransport() override;

  SendResult send(std::span<const uint8_t> message, const MessageInfo& info) override;
  bool flush() override;
  const std::string& name() const override { return name_; }
  TransportTraits traits() const override { return {.streams = true, .stream_count = streams_}; }
  uint64_t abandoned_messages() const override;
  HeldOutcome held_outcome() const override;
  void poll() override;
  void abandon() override;
  bool drained() const override;
  bool connected() override;
  uint32_t session_epoch() const override;
  bool receive_control(std::vector<uint8_t>& message) override;
  bool send_control(std::span<const uint8_t> message, uint32_t ppid) override;

  class SendRing;

  /// The association's state as its notifications last told it, and what its
  /// callbacks need to hand queued messages to usrsctp. Callbacks may come after
  /// the socket is closed, so a state is never freed: it is recycled for a later
  /// transport once no callback of its old socket is inside it (`socket` tells
  /// callbacks whether they are still its socket's).
  struct AssociationState {
    std::atomic<struct socket*> socket{nullptr};  ///< null while retired
    std::atomic<int> callbacks{0};                ///< callbacks inside it now
    std::atomic<int> state{0};                    ///< 0 connecting, 1 up, 2 down
    std::atomic<uint16_t> outbound_streams{0};
    std::atomic<uint32_t> restarts{0};  ///< RESTARTs seen: each is a new transport session
    /// sack_clocked_sends: the transport's ring; null without one, or once the
    /// transport is gone (callbacks may come later).
    std::atomic<SendRing*> ring{nullptr};
    std::atomic_flag pumping = ATOMIC_FLAG_INIT;  ///< one thread empties the ring at a time
    std::atomic<bool> pump_missed{false};         ///< another came while it was busy
    std::atomic<uint64_t> last_sack_ns{0};        ///< steady clock of the last send callback
    /// Told of changes of `state`; null once the transport is gone. Callbacks
    /// hold `notifying` while they use it, the destructor while it clears it.
    std::atomic<TransportEvents*> events{nullptr};
    std::atomic_flag notifying = ATOMIC_FLAG_INIT;
    std::string name;  ///< the transport's, for log lines from callbacks
    /// Messages of other protocols (ASAP) from the peer, the latest few.
    std::mutex control_mutex;
    std::deque<std::vector<uint8_t>> control;
    std::atomic<bool> control_waiting{false};
    /// Records of the messages usrsctp gave back undelivered (SEND_FAILED: the
    /// association failed, or a PR-SCTP lifetime ran out); any thread.
    std::atomic<uint64_t> returned_records{0};
  };

  /// AssociationStates in existence (in use or waiting to be reused); for tests.
  static size_t association_states();

  /// Hands the ring's messages to usrsctp until it takes no more: from the send
  /// callback (usrsctp's receive thread, after a SACK) or from the sending thread.
  static void pump(AssociationState& association);

 private:
  std::string name_;
  std::string peer_;  ///< for messages: "HOST:PORT (UDP encapsulation port N)"
  struct socket* sock_ = nullptr;
  AssociationState* association_;  ///< recycled, never freed: callbacks may outlive the socket
  uint16_t streams_ = 0;
  bool up_ = false;  ///< the association came up and its path settings are made
  std::chrono::steady_clock::time_point deadline_;  ///< of the handshake
  uint32_t connect_timeout_ms_;
  sctp_paddrparams path_{};         ///< set once the association exists
  std::unique_ptr<SendRing> ring_;  ///< with sack_clocked_sends
  std::unique_ptr<TransportEvents> events_;

  void release_ring();
  void release_events();  ///< no callback tells events_ anything after it
};

}  // namespace poolflow::transport
