#include "collector/target_check.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "poolflow/byte_order.h"
#include "transport/common/socket_address.h"

namespace poolflow::collector {

namespace {

int open_socket(const sockaddr_storage& peer, int type) {
  const int fd = ::socket(peer.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  return fd;
}

}  // namespace

TargetCheck::TargetCheck(const conf::Target& target, const TargetCheckOptions& options)
    : target_(target),
      options_(options),
      name_(fmt::format("{}:{}:{}", target.kind, target.host, target.port)) {
  if (target_.kind == "sctp") return;  // the SCTP client resolves its own peer
  // Resolved once: a check never waits for DNS.
  transport::resolve(target_.host, target_.port, peer_, peer_length_);
  if (target_.kind == "udp") {
    fd_ = open_socket(peer_, SOCK_DGRAM);
    // Connected, so that an ICMP port unreachable comes back as ECONNREFUSED.
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&peer_), peer_length_) != 0) {
      const std::string error = std::strerror(errno);
      close_socket();
      throw std::runtime_error(name_ + ": " + error);
    }
  }
}

TargetCheck::~TargetCheck() { close_socket(); }

void TargetCheck::close_socket() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::optional<bool> TargetCheck::record(bool passed) {
  checking_ = false;
  ++checks_;
  if (passed) {
    failed_in_row_ = 0;
    if (reachable_) return std::nullopt;
    reachable_ = true;
    spdlog::info("target {}: reachable", name_);
    return true;
  }
  ++failed_;
  ++failed_in_row_;
  if (!reachable_ || failed_in_row_ < options_.failures) return std::nullopt;
  reachable_ = false;
  spdlog::warn("target {}: unreachable after {} failed check(s) in a row", name_, failed_in_row_);
  return false;
}

void TargetCheck::start_check(uint64_t now_ms) {
  checking_ = true;
  next_check_ms_ = now_ms + options_.interval_ms;
  if (target_.kind == "tcp") {
    fd_ = open_socket(peer_, SOCK_STREAM);
    // Refused at once: poll() finds no socket and records the failure.
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&peer_), peer_length_) != 0 &&
        errno != EINPROGRESS)
      close_socket();
  } else if (target_.kind == "udp") {
    // Export time now, sequence 0, observation domain 0, no sets.
    uint8_t message[16] = {};
    store_be16(message, 10);
    store_be16(message + 2, sizeof message);
    store_be32(message + 4, static_cast<uint32_t>(std::time(nullptr)));
    (void)::recv(fd_, message, 0, MSG_DONTWAIT);  // clears an error left from before
    if (::send(fd_, message, sizeof message, 0) < 0 && errno == ECONNREFUSED)
      (void)::send(fd_, message, sizeof message, 0);
  } else if (!sctp_up_) {
    sctp_.reset();
    ++generation_;
    try {
      sctp_ = std::make_unique<transport::SctpMessageClient>(target_.host, target_.port,
                                                             target_.udp_encaps_port, options_.sctp,
                                                             sctp_events_, generation_);
    } catch (const std::exception& e) {
      spdlog::debug("target {}: {}", name_, e.what());
    }
  }
}

std::optional<bool> TargetCheck::poll(uint64_t now_ms) {
  std::optional<bool> verdict;
  auto apply = [&](std::optional<bool> v) {
    if (v) verdict = v;
  };
  // Results that come before the end of the interval count at once.
  if (target_.kind == "sctp") {
    while (auto e = sctp_events_.pop(std::chrono::milliseconds(0))) {
      if (e->association != generation_) continue;  // an association given up before
      if (e->kind == transport::SctpEvent::Kind::up) {
        sctp_up_ = true;
        if (checking_) apply(record(true));
      } else if (e->kind == transport::SctpEvent::Kind::down) {
        sctp_up_ = false;
        sctp_.reset();
        apply(record(false));
      }
    }
  } else if (checking_ && target_.kind == "tcp") {
    if (fd_ < 0) {
      apply(record(false));
    } else {
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, 0) == 1) {
        int error = 0;
        socklen_t length = sizeof error;
        ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length);
        close_socket();
        apply(record(error == 0));
      }
    }
  } else if (checking_ && target_.kind == "udp") {
    uint8_t byte = 0;
    if (::recv(fd_, &byte, sizeof byte, MSG_DONTWAIT) < 0 && errno == ECONNREFUSED)
      apply(record(false));
  }
  if (now_ms >= next_check_ms_) {
    if (checking_) {
      // The interval is over: a TCP connection not made, an SCTP association
      // not up, fail; a UDP message not refused passes.
      if (target_.kind == "tcp") close_socket();
      apply(record(target_.kind == "udp" || (target_.kind == "sctp" && sctp_up_)));
    } else if (target_.kind == "sctp" && sctp_up_) {
      apply(record(true));  // still up: a passed check per interval
    }
    start_check(now_ms);
    if (target_.kind == "sctp" && sctp_up_) checking_ = false;
  }
  return verdict;
}

std::string TargetCheck::report() const {
  return fmt::format("target {} {}: checks {} failed {}\n", name_,
                     reachable_ ? "reachable" : "unreachable", checks_, failed_);
}

}  // namespace poolflow::collector
