// A collector's TCP endpoint: accepts connections (one transport session
// each) and splits each byte stream into IPFIX messages by their length field.
// One thread polls the listening socket and every connection.
#pragma once

#include <atomic>
#include <string>
#include <thread>

#include "poolflow/listener.h"

namespace poolflow::transport {

class TcpListener final : public Listener {
 public:
  /// Binds HOST:PORT, listens and starts its thread. Throws std::runtime_error.
  TcpListener(const std::string& host, uint16_t port, const ListenerOptions& options,
              MessageSink& sink);
  ~TcpListener() override;

  const std::string& description() const override { return description_; }

 private:
  void run();

  std::string description_;
  ListenerOptions options_;
  MessageSink& sink_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  ///< eventfd: tells the thread to stop
  std::thread thread_;
};

}  // namespace poolflow::transport
