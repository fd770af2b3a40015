// IPFIX over SCTP (RFC 7011 §10.2) through usrsctp: one association per
// transport session, UDP encapsulation by default, PR-SCTP per message.
#pragma once

#include <usrsctp.h>

#include <atomic>
#include <chrono>
#include <string>

#include "poolflow/transport.h"

namespace poolflow::transport {

class SctpTransport final : public Transport {
 public:
  /// Connects to HOST:PORT. Connect::wait waits (at most
  /// options.sctp.connect_timeout_ms) for the association and throws
  /// std::runtime_error when there is none; Connect::start returns at once and
  /// connected() tells.
  SctpTransport(std::string name, const std::string& host, uint16_t port,
                const TransportOptions& options, Connect connect = Connect::wait);
  ~SctpTransport() override;

  SendResult send(std::span<const uint8_t> message, const MessageInfo& info) override;
  bool flush() override;
  const std::string& name() const override { return name_; }
  TransportTraits traits() const override { return {.streams = true, .stream_count = streams_}; }
  uint64_t abandoned_messages() const override;
  bool drained() const override;
  bool connected() override;

  /// The association's state as its notifications last told it.
  struct AssociationState {
    std::atomic<int> state{0};  ///< 0 connecting, 1 up, 2 down
    std::atomic<uint16_t> outbound_streams{0};
  };

 private:
  std::string name_;
  std::string peer_;  ///< for messages: "HOST:PORT (UDP encapsulation port N)"
  struct socket* sock_ = nullptr;
  AssociationState* association_;  ///< never freed: callbacks may outlive the socket
  uint16_t streams_ = 0;
  bool up_ = false;  ///< the association came up and its path settings are made
  std::chrono::steady_clock::time_point deadline_;  ///< of the handshake
  uint32_t connect_timeout_ms_;
  sctp_paddrparams path_{};  ///< set once the association exists
};

}  // namespace poolflow::transport
