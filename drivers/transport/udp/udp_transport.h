// IPFIX over UDP (RFC 7011 §10.3): one datagram per message, templates resent
// by the exporter every templateRefreshTimeout (and every N messages).
#pragma once

#include <string>

#include "poolflow/transport.h"

namespace poolflow::transport {

class UdpTransport final : public Transport {
 public:
  /// Opens a UDP socket connected to HOST:PORT. Throws std::system_error.
  UdpTransport(std::string name, const std::string& host, uint16_t port,
               const TransportOptions& options);
  ~UdpTransport() override;

  SendResult send(std::span<const uint8_t> message, const MessageInfo& info) override;
  bool flush() override { return true; }
  const std::string& name() const override { return name_; }
  TransportTraits traits() const override { return traits_; }

 private:
  std::string name_;
  int fd_ = -1;
  TransportTraits traits_;
};

}  // namespace poolflow::transport
