// A collector's UDP endpoint: every datagram is one IPFIX message; each
// exporter address and port is a transport session (RFC 7011 §10.3).
#pragma once

#include <string>
#include <thread>

#include "poolflow/listener.h"

namespace poolflow::transport {

class UdpListener final : public Listener {
 public:
  /// Binds HOST:PORT and starts its thread. Throws std::runtime_error.
  UdpListener(const std::string& host, uint16_t port, const ListenerOptions& options,
              MessageSink& sink);
  ~UdpListener() override;

  const std::string& description() const override { return description_; }

 private:
  void run();

  std::string description_;
  ListenerOptions options_;
  MessageSink& sink_;
  int fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
};

}  // namespace poolflow::transport
