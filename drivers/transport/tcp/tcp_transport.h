// IPFIX over TCP (RFC 7011 §10.4): a byte stream of messages on one connection.
// A lost connection is retried with back-off, never more often than
// reconnect_interval_s; each new connection is a new transport session.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <string>
#include <vector>

#include "poolflow/transport.h"

namespace poolflow::transport {

class TcpTransport final : public Transport {
 public:
  /// Resolves HOST:PORT and tries to connect (waiting up to a second); a refused
  /// connection is retried later. Throws std::runtime_error when HOST does not resolve.
  TcpTransport(std::string name, const std::string& host, uint16_t port,
               const TransportOptions& options);
  ~TcpTransport() override;

  SendResult send(std::span<const uint8_t> message, const MessageInfo& info) override;
  bool flush() override;
  const std::string& name() const override { return name_; }
  uint32_t session_epoch() const override { return epoch_; }
  uint64_t abandoned_messages() const override { return abandoned_; }
  bool drained() const override;
  HeldOutcome held_outcome() const override { return held_; }

 private:
  using Clock = std::chrono::steady_clock;
  enum class State { waiting, connecting, connected };

  void start_connect();
  void check_connecting();
  void lose_connection(const char* why, int error);
  bool write_pending();

  std::string name_;
  sockaddr_storage peer_{};
  socklen_t peer_length_ = 0;
  TransportOptions::Tcp options_;
  int fd_ = -1;
  State state_ = State::waiting;
  Clock::time_point retry_at_{};
  std::chrono::seconds backoff_;
  uint32_t epoch_ = 0;
  uint64_t abandoned_ = 0;
  /// The unsent tail of the last message (stream framing): the message is held
  /// (SendResult::held) until its last byte is written, or dropped with the
  /// connection. Aggregation thread only.
  std::vector<uint8_t> pending_;
  MessageInfo pending_info_;
  size_t pending_length_ = 0;  ///< of the whole message
  HeldOutcome held_;
};

}  // namespace poolflow::transport
