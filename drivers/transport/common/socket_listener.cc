#include "transport/common/socket_listener.h"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "transport/common/listen_socket.h"

namespace poolflow::transport {

SocketListener::SocketListener(const char* kind, int socket_type, const std::string& host,
                               uint16_t port, const ListenerOptions& options, MessageSink& sink)
    : kind_(kind), options_(options), sink_(sink) {
  std::string where;
  fd_ = open_listen_socket(host, port, socket_type,
                           static_cast<int>(options.receive_buffer_kib * 1024), where);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
  description_ = std::string(kind) + " " + where;
}

SocketListener::~SocketListener() {
  ::close(wake_fd_);
  ::close(fd_);
}

void SocketListener::start() {
  thread_ = std::thread([this] { serve(); });
}

void SocketListener::stop() {
  const uint64_t one = 1;
  if (::write(wake_fd_, &one, sizeof one) < 0) spdlog::error("{}: cannot stop the listener", kind_);
  if (thread_.joinable()) thread_.join();
}

}  // namespace poolflow::transport
