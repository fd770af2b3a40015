#include "transport/udp/udp_listener.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <map>
#include <vector>

#include "transport/common/socket_address.h"

namespace poolflow::transport {

void UdpListener::serve() {
  struct Exporter {
    uint64_t session;
    std::chrono::steady_clock::time_point last_seen;
  };
  std::map<std::string, Exporter> sessions;  // by exporter address
  std::vector<uint8_t> datagram(65536);
  uint64_t refused = 0;
  const auto idle_timeout = std::chrono::seconds(options_.udp_idle_timeout_s);
  for (;;) {
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {fd_, POLLIN, 0}};
    if (::poll(fds, 2, 1000) < 0 && errno != EINTR) break;
    if (fds[0].revents) break;
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(sessions, [&](const auto& entry) {
      if (now - entry.second.last_seen < idle_timeout) return false;
      sink_.session_ended(entry.second.session);
      return true;
    });
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
        it = sessions.emplace(exporter, Exporter{next_session_id(), now}).first;
        sink_.session_started(it->second.session, "udp " + exporter);
      }
      it->second.last_seen = now;
      sink_.message(it->second.session, 0, {datagram.data(), static_cast<size_t>(n)});
    }
  }
  for (const auto& [address, exporter] : sessions) sink_.session_ended(exporter.session);
}

}  // namespace poolflow::transport
