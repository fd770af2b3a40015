#include "transport/tcp/tcp_listener.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <vector>

#include "poolflow/byte_order.h"
#include "transport/common/socket_address.h"

namespace poolflow::transport {

namespace {

constexpr size_t kHeaderLength = 16;
constexpr uint16_t kVersion = 10;

struct Connection {
  uint64_t session;
  std::vector<uint8_t> buffer;  ///< at most one message plus one read
  size_t used = 0;
};

}  // namespace

void TcpListener::serve() {
  std::map<int, Connection> connections;
  std::vector<pollfd> fds;
  const auto close_connection = [&](int fd) {
    sink_.session_ended(connections.at(fd).session);
    connections.erase(fd);
    ::close(fd);
  };
  for (;;) {
    fds.assign({{wake_fd_, POLLIN, 0}, {fd_, POLLIN, 0}});
    for (const auto& [fd, c] : connections) fds.push_back({fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) break;
    if (fds[0].revents) break;
    if (fds[1].revents & POLLIN) {
      sockaddr_storage peer{};
      socklen_t length = sizeof peer;
      const int fd =
          ::accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0 && connections.size() >= options_.max_sessions) {
        spdlog::warn("tcp: refusing {}: {} sessions already",
                     address_text(reinterpret_cast<sockaddr*>(&peer)), options_.max_sessions);
        ::close(fd);
      } else if (fd >= 0) {
        Connection& c = connections[fd];
        c.session = next_session_id();
        c.buffer.resize(65535 + 4096);
        sink_.session_started(c.session, "tcp " + address_text(reinterpret_cast<sockaddr*>(&peer)));
      }
    }
    for (size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      const int fd = fds[i].fd;
      Connection& c = connections.at(fd);
      const ssize_t n = ::recv(fd, c.buffer.data() + c.used, c.buffer.size() - c.used, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        close_connection(fd);
        continue;
      }
      if (n < 0) continue;
      c.used += static_cast<size_t>(n);
      // Hand over every whole message; a header that cannot start a message
      // (wrong version, length below a header) goes to the sink, which counts
      // it, and the connection is closed: the stream cannot be resynchronised.
      size_t offset = 0;
      bool keep = true;
      while (keep && c.used - offset >= kHeaderLength) {
        const uint8_t* p = c.buffer.data() + offset;
        const uint16_t length = load_be16(p + 2);
        if (load_be16(p) != kVersion || length < kHeaderLength) {
          sink_.message(c.session, 0, {p, kHeaderLength});
          keep = false;
          break;
        }
        if (c.used - offset < length) break;
        keep = sink_.message(c.session, 0, {p, length});
        offset += length;
      }
      if (!keep) {
        close_connection(fd);
        continue;
      }
      std::memmove(c.buffer.data(), c.buffer.data() + offset, c.used - offset);
      c.used -= offset;
    }
  }
  for (const auto& [fd, c] : connections) {
    sink_.session_ended(c.session);
    ::close(fd);
  }
}

}  // namespace poolflow::transport
