// A collector's TCP endpoint: accepts connections (one transport session
// each) and splits each byte stream into IPFIX messages by their length field.
// One thread polls the listening socket and every connection.
#pragma once

#include <sys/socket.h>

#include <string>

#include "transport/common/socket_listener.h"

namespace poolflow::transport {

class TcpListener final : public SocketListener {
 public:
  /// Binds HOST:PORT, listens and starts its thread. Throws std::runtime_error.
  TcpListener(const std::string& host, uint16_t port, const ListenerOptions& options,
              MessageSink& sink)
      : SocketListener("tcp", SOCK_STREAM, host, port, options, sink) {
    start();
  }
  ~TcpListener() override { stop(); }

 private:
  void serve() override;
};

}  // namespace poolflow::transport
