#include "transport/common/listen_socket.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "transport/common/socket_address.h"

namespace poolflow::transport {

int open_listen_socket(const std::string& host, uint16_t port, int type, int receive_buffer,
                       std::string& where) {
  sockaddr_storage local{};
  socklen_t length = 0;
  resolve(host, port, local, length);
  const int fd = ::socket(local.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  where = address_text(reinterpret_cast<sockaddr*>(&local));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), length) != 0 ||
      (type == SOCK_STREAM && ::listen(fd, 128) != 0)) {
    const int error = errno;
    ::close(fd);
    throw std::runtime_error(where + ": " + std::strerror(error));
  }
  length = sizeof local;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length);
  where = address_text(reinterpret_cast<sockaddr*>(&local));
  return fd;
}

}  // namespace poolflow::transport
