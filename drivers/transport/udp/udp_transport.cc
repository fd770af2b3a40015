#include "transport/udp/udp_transport.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "transport/common/socket_address.h"

namespace poolflow::transport {

UdpTransport::UdpTransport(std::string name, const std::string& host, uint16_t port,
                           const TransportOptions& options)
    : name_(std::move(name)) {
  sockaddr_storage peer{};
  socklen_t length = 0;
  resolve(host, port, peer, length);
  fd_ = ::socket(peer.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), name_);
  const int buffer = static_cast<int>(options.udp.send_buffer_kib * 1024);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&peer), length) != 0) {
    const int error = errno;
    ::close(fd_);
    throw std::system_error(error, std::generic_category(), name_);
  }
  traits_.template_refresh_ms = options.udp.template_refresh_s * 1000;
  traits_.template_refresh_messages = options.udp.template_refresh_messages;
}

UdpTransport::~UdpTransport() { ::close(fd_); }

SendResult UdpTransport::send(std::span<const uint8_t> message, const MessageInfo&) {
  if (::send(fd_, message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL) ==
      static_cast<ssize_t>(message.size()))
    return SendResult::sent;
  if (errno == EWOULDBLOCK || errno == EAGAIN || errno == ENOBUFS) return SendResult::would_block;
  return SendResult::failed;  // e.g. ECONNREFUSED: an ICMP error for an earlier datagram
}

}  // namespace poolflow::transport
