#include "transport/tcp/tcp_transport.h"

#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "poolflow/clock.h"
#include "transport/common/socket_address.h"

namespace poolflow::transport {

TcpTransport::TcpTransport(std::string name, const std::string& host, uint16_t port,
                           const TransportOptions& options)
    : name_(std::move(name)), options_(options.tcp), backoff_(options.tcp.reconnect_interval_s) {
  resolve(host, port, peer_, peer_length_);
  start_connect();
  // Give a local collector a moment so that the first records are not lost.
  for (int i = 0; i < 100 && state_ == State::connecting; ++i) {
    ::poll(nullptr, 0, 10);
    check_connecting();
  }
}

TcpTransport::~TcpTransport() {
  if (fd_ >= 0) ::close(fd_);
}

void TcpTransport::start_connect() {
  fd_ = ::socket(peer_.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return lose_connection("socket", errno);
  const int buffer = static_cast<int>(options_.send_buffer_kib * 1024);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  const int on = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  state_ = State::connecting;
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&peer_), peer_length_) == 0 ||
      errno == EINPROGRESS)
    return check_connecting();
  lose_connection("connect", errno);
}

void TcpTransport::check_connecting() {
  pollfd p{fd_, POLLOUT, 0};
  if (::poll(&p, 1, 0) <= 0) return;
  int error = 0;
  socklen_t length = sizeof error;
  ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length);
  if (error != 0) return lose_connection("connect", error);
  state_ = State::connected;
  ++epoch_;
  backoff_ = std::chrono::seconds(options_.reconnect_interval_s);
  spdlog::info("{}: TCP connected (transport session {})", name_, epoch_);
}

void TcpTransport::lose_connection(const char* why, int error) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!pending_.empty()) {
    ++abandoned_;
    ++held_.dropped_messages;
    held_.dropped_records += pending_info_.records;
    held_.dropped_packets += pending_info_.packets;
    held_.dropped_octets += pending_info_.octets;
    if (pending_info_.policy.kind == Reliability::reliable)
      held_.dropped_reliable_records += pending_info_.records;
    if (pending_info_.records != 0) {
      held_.last_dropped_ms = unix_ms();
      if (held_.first_dropped_ms == 0) held_.first_dropped_ms = held_.last_dropped_ms;
    }
  }
  pending_.clear();
  state_ = State::waiting;
  retry_at_ = Clock::now() + backoff_;
  spdlog::warn("{}: {}: {}; next attempt in {} s", name_, why, std::strerror(error),
               backoff_.count());
  backoff_ = std::min(backoff_ * 2, std::chrono::seconds(options_.reconnect_max_s));
}

bool TcpTransport::write_pending() {
  while (!pending_.empty()) {
    const ssize_t n = ::send(fd_, pending_.data(), pending_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EWOULDBLOCK || errno == EAGAIN) return false;
      lose_connection("send", errno);
      return false;
    }
    pending_.erase(pending_.begin(), pending_.begin() + n);
    if (pending_.empty()) {
      ++held_.sent_messages;
      held_.sent_bytes += pending_length_;
      held_.sent_records += pending_info_.records;
    }
  }
  return true;
}

SendResult TcpTransport::send(std::span<const uint8_t> message, const MessageInfo& info) {
  // Connecting happens in flush() only: a message built for one transport
  // session must not become the first of the next one, before its templates.
  if (state_ != State::connected) return SendResult::failed;
  if (!write_pending())
    return state_ == State::connected ? SendResult::would_block : SendResult::failed;
  const ssize_t n = ::send(fd_, message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n < 0) {
    if (errno == EWOULDBLOCK || errno == EAGAIN) return SendResult::would_block;
    lose_connection("send", errno);
    return SendResult::failed;
  }
  if (static_cast<size_t>(n) == message.size()) return SendResult::sent;
  // A message is never cut in the stream: its tail waits for the next chance,
  // and the message counts as sent only once it is all written.
  pending_.assign(message.begin() + n, message.end());
  pending_info_ = info;
  pending_length_ = message.size();
  return SendResult::held;
}

bool TcpTransport::drained() const {
  if (state_ != State::connected) return true;
  int unacknowledged = 0;  // bytes in the kernel's send queue, sent or not
  return pending_.empty() && ::ioctl(fd_, SIOCOUTQ, &unacknowledged) == 0 && unacknowledged == 0;
}

bool TcpTransport::flush() {
  if (state_ == State::waiting && Clock::now() >= retry_at_) start_connect();
  if (state_ == State::connecting) check_connecting();
  if (state_ == State::connected) write_pending();
  return state_ == State::connected;
}

}  // namespace poolflow::transport
