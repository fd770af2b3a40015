// What the TCP and UDP listeners share: one socket bound to HOST:PORT and one
// thread that serves it, woken through an eventfd when the listener is destroyed.
#pragma once

#include <string>
#include <thread>

#include "poolflow/listener.h"

namespace poolflow::transport {

class SocketListener : public Listener {
 public:
  ~SocketListener() override;

  const std::string& description() const override { return description_; }

 protected:
  /// Binds HOST:PORT with a socket of `socket_type` (SOCK_STREAM or SOCK_DGRAM),
  /// described as `kind` ("tcp", "udp"). Throws std::runtime_error.
  SocketListener(const char* kind, int socket_type, const std::string& host, uint16_t port,
                 const ListenerOptions& options, MessageSink& sink);
  /// Runs serve() on the listener's thread: the last step of a derived constructor.
  void start();
  /// Wakes the thread and waits for serve() to return: the first step of a
  /// derived destructor, while the derived object is still whole.
  void stop();
  /// The thread's loop; returns once `wake_fd_` is readable.
  virtual void serve() = 0;

  const char* const kind_;
  const ListenerOptions options_;
  MessageSink& sink_;
  int fd_ = -1;  ///< the bound socket
  int wake_fd_ = -1;

 private:
  std::string description_;
  std::thread thread_;
};

}  // namespace poolflow::transport
