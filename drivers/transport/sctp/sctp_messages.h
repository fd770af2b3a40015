// SCTP associations that carry whole control messages tagged with a payload
// protocol identifier (ASAP: 11, ENRP: 12), for the RSerPool programs. A
// server socket accepts any number of associations (the registrar); a client
// is one association to one peer (a pool element or pool user to its
// registrar). usrsctp calls back on its own threads: everything it reports
// becomes an SctpEvent in a bounded queue that one owner thread drains, so the
// protocol state machines run on that thread alone.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <sys/socket.h>

namespace poolflow::transport {

struct SctpEvent {
  enum class Kind : uint8_t { up, down, message };
  Kind kind = Kind::message;
  uint64_t association = 0;  ///< server: the association; client: its tag
  uint32_t ppid = 0;         ///< host byte order
  uint16_t stream = 0;
  std::vector<uint8_t> bytes;
  sockaddr_storage peer{};  ///< up: the peer's primary address
};

/// Many producers (usrsctp's threads), one consumer. Messages past `capacity`
/// are dropped and counted; association changes always get in.
class SctpEventQueue {
 public:
  explicit SctpEventQueue(size_t capacity = 4096) : capacity_(capacity) {}

  void push(SctpEvent&& event);
  /// The next event, waiting at most `wait` for one.
  std::optional<SctpEvent> pop(std::chrono::milliseconds wait);
  uint64_t dropped() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<SctpEvent> events_;
  size_t capacity_;
  uint64_t dropped_ = 0;
};

struct SctpMessageOptions {
  uint16_t local_udp_port = 0;  ///< this process's UDP encapsulation port; 0: a free one
  bool raw_ip = false;
  uint16_t streams = 4;
  // Dead peers are noticed in well under a second (drivers/transport/sctp/README.md).
  uint32_t rto_initial_ms = 60;
  uint32_t rto_min_ms = 40;
  uint32_t rto_max_ms = 160;
  uint16_t max_retransmissions = 3;
  uint32_t heartbeat_interval_ms = 100;
  uint32_t buffer_kib = 1024;  ///< send and receive buffer of the socket
  size_t max_message = 65535;  ///< a longer message aborts its association
};

struct SctpMessageContext;

/// A listening one-to-many socket.
class SctpMessageServer {
 public:
  /// Binds HOST:PORT and listens. Throws std::runtime_error.
  SctpMessageServer(const std::string& host, uint16_t port, const SctpMessageOptions& options,
                    SctpEventQueue& queue);
  ~SctpMessageServer();
  SctpMessageServer(const SctpMessageServer&) = delete;
  SctpMessageServer& operator=(const SctpMessageServer&) = delete;

  /// False when the association is gone or its send buffer is full.
  bool send(uint64_t association, uint32_t ppid, std::span<const uint8_t> bytes);
  void abort(uint64_t association);
  /// "sctp 127.0.0.1:3863 (UDP encapsulation 9900)".
  const std::string& description() const { return description_; }
  uint16_t udp_port() const { return udp_port_; }

 private:
  SctpMessageContext* context_;  ///< retired by close(): usrsctp may call back a while after
  std::string description_;
  uint16_t udp_port_ = 0;
};

/// One association to HOST:PORT, whose events carry `tag` as their association.
class SctpMessageClient {
 public:
  /// Starts connecting (an `up` or a `down` event tells how it went). Throws
  /// std::runtime_error when it cannot even start.
  SctpMessageClient(const std::string& host, uint16_t port, uint16_t remote_udp_port,
                    const SctpMessageOptions& options, SctpEventQueue& queue, uint64_t tag);
  /// Shuts the association down gracefully.
  ~SctpMessageClient();
  SctpMessageClient(const SctpMessageClient&) = delete;
  SctpMessageClient& operator=(const SctpMessageClient&) = delete;

  /// False when the association is not up or its send buffer is full.
  bool send(uint32_t ppid, std::span<const uint8_t> bytes);
  /// The local addresses of the association (empty until it is up).
  std::vector<sockaddr_storage> local_addresses() const;

 private:
  SctpMessageContext* context_;  ///< retired by close(): usrsctp may call back a while after
};

}  // namespace poolflow::transport
