// Checks of a third-party collector that `poolflow-collector --register-only`
// keeps in a pool: it stays registered while the checks pass and is
// deregistered after `failures` failed checks in a row. One check per
// interval, by transport:
//   tcp  - a connection is accepted within the interval (then closed);
//   sctp - an association is up (kept open; its heartbeats notice a dead
//          peer in well under a second, and a lost one fails at once);
//   udp  - a header-only IPFIX message (16 octets, no sets: valid per
//          RFC 7011 §3, observation domain 0) draws no ICMP port
//          unreachable. A closed port is noticed; a host that vanishes
//          without a word, or a collector that stops reading, is not.
// Everything runs on the caller's thread; nothing blocks.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <sys/socket.h>

#include "conf/collector_conf.h"
#include "transport/sctp/sctp_messages.h"

namespace poolflow::collector {

struct TargetCheckOptions {
  uint32_t interval_ms = 500;
  uint32_t failures = 2;
  transport::SctpMessageOptions sctp;
};

class TargetCheck {
 public:
  TargetCheck(const conf::Target& target, const TargetCheckOptions& options);
  ~TargetCheck();
  TargetCheck(const TargetCheck&) = delete;
  TargetCheck& operator=(const TargetCheck&) = delete;

  /// Runs what is due; returns the verdict when it changed (true: reachable).
  /// A target is unreachable until its first check passes.
  std::optional<bool> poll(uint64_t now_ms);
  bool reachable() const { return reachable_; }
  /// "udp:127.0.0.1:9995 reachable: checks 12 failed 0"
  std::string report() const;

 private:
  void start_check(uint64_t now_ms);
  std::optional<bool> record(bool passed);
  void close_socket();

  conf::Target target_;
  TargetCheckOptions options_;
  std::string name_;
  sockaddr_storage peer_{};  ///< tcp and udp: the target, resolved once
  socklen_t peer_length_ = 0;
  uint64_t next_check_ms_ = 0;
  bool checking_ = false;  ///< a check is under way and has no result yet
  int fd_ = -1;            ///< tcp: the connection being tried; udp: the connected socket
  transport::SctpEventQueue sctp_events_;
  std::unique_ptr<transport::SctpMessageClient> sctp_;
  uint32_t generation_ = 0;  ///< of `sctp_`: events of older associations are stale
  bool sctp_up_ = false;
  bool reachable_ = false;
  uint32_t failed_in_row_ = 0;
  uint64_t checks_ = 0;
  uint64_t failed_ = 0;
};

}  // namespace poolflow::collector
