#include "transport/udp/udp_listener.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <vector>

#include "transport/common/listen_socket.h"
#include "transport/common/socket_address.h"

namespace poolflow::transport {

UdpListener::UdpListener(const std::string& host, uint16_t port, const ListenerOptions& options,
                         MessageSink& sink)
    : options_(options), sink_(sink) {
  std::string where;
  fd_ = open_listen_socket(host, port, SOCK_DGRAM,
                           static_cast<int>(options.receive_buffer_kib * 1024), where);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
  description_ = "udp " + where;
  thread_ = std::thread([this] { run(); });
}

UdpListener::~UdpListener() {
  const uint64_t one = 1;
  if (::write(wake_fd_, &one, sizeof one) < 0) spdlog::error("udp: cannot stop the listener");
  thread_.join();
  ::close(wake_fd_);
  ::close(fd_);
}

void UdpListener::run() {
  std::map<std::string, uint64_t> sessions;  // by exporter address
  std::vector<uint8_t> datagram(65536);
  uint64_t refused = 0;
  for (;;) {
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) break;
    if (fds[0].revents) break;
    for (;;) {
      sockaddr_storage peer{};
      socklen_t length = sizeof peer;
      const ssize_t n = ::recvfrom(fd_, datagram.data(), datagram.size(), MSG_DONTWAIT,
                                   reinterpret_cast<sockaddr*>(&peer), &length);
      if (n < 0) break;
      const std::string exporter = address_text(reinterpret_cast<sockaddr*>(&peer));
      auto it = sessions.find(exporter);
      if (it == sessions.end()) {
        if (sessions.size() >= options_.max_sessions) {
          if (refused++ % 1000 == 0)
            spdlog::warn("udp: {} exporters already: dropping datagrams of {} ({} so far)",
                         options_.max_sessions, exporter, refused);
          continue;
        }
        it = sessions.emplace(exporter, next_session_id()).first;
        sink_.session_started(it->second, "udp " + exporter);
      }
      sink_.message(it->second, 0, {datagram.data(), static_cast<size_t>(n)});
    }
  }
  for (const auto& [exporter, session] : sessions) sink_.session_ended(session);
}

}  // namespace poolflow::transport
