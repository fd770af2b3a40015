// A collector's UDP endpoint: every datagram is one IPFIX message; each
// exporter address and port is a transport session (RFC 7011 §10.3).
#pragma once

#include <sys/socket.h>

#include <string>

#include "transport/common/socket_listener.h"

namespace poolflow::transport {

class UdpListener final : public SocketListener {
 public:
  /// Binds HOST:PORT and starts its thread. Throws std::runtime_error.
  UdpListener(const std::string& host, uint16_t port, const ListenerOptions& options,
              MessageSink& sink)
      : SocketListener("udp", SOCK_DGRAM, host, port, options, sink) {
    start();
  }
  ~UdpListener() override { stop(); }

 private:
  void serve() override;
};

}  // namespace poolflow::transport
