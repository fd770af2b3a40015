// IPFIX over SCTP (RFC 7011 §10.2) through usrsctp: one association per
// transport session, UDP encapsulation by default, PR-SCTP per message.
#pragma once

#include <usrsctp.h>

#include <atomic>
#include <string>

#include "poolflow/transport.h"

namespace poolflow::transport {

class SctpTransport final : public Transport {
 public:
  /// Connects to HOST:PORT and waits (at most options.sctp.connect_timeout_ms)
  /// for the association. Throws std::runtime_error when there is none.
  SctpTransport(std::string name, const std::string& host, uint16_t port,
                const TransportOptions& options);
  ~SctpTransport() override;

  SendResult send(std::span<const uint8_t> message, const MessageInfo& info) override;
  bool flush() override;
  const std::string& name() const override { return name_; }
  TransportTraits traits() const override { return {.streams = true, .stream_count = streams_}; }
  uint64_t abandoned_messages() const override;
  bool drained() const override;

  /// The association's state as its notifications last told it.
  struct AssociationState {
    std::atomic<int> state{0};  ///< 0 connecting, 1 up, 2 down
    std::atomic<uint16_t> outbound_streams{0};
  };

 private:
  std::string name_;
  struct socket* sock_ = nullptr;
  AssociationState* association_;  ///< never freed: callbacks may outlive the socket
  uint16_t streams_ = 0;
};

}  // namespace poolflow::transport
