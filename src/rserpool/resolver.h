// A pool user's handle resolution (RFC 5352 §3.5) without I/O: one request at
// a time to the home registrar, retransmitted when unanswered, matched to its
// HANDLE_RESOLUTION_RESPONSE by pool handle. poolflow-pool uses it today; the
// exporter's pool user (registrar hunt, cache, selection) will build on it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "rserpool/message.h"

namespace poolflow::rserpool {

class HandleResolver {
 public:
  enum class Status : uint8_t { idle, waiting, resolved, refused, timed_out };

  /// `timeout_ms` per try (T1-ENRPrequest), `retransmits` tries after the first
  /// (MAX-REQUEST-RETRANSMIT).
  explicit HandleResolver(uint32_t timeout_ms = 2000, uint32_t retransmits = 2)
      : timeout_ms_(timeout_ms), retransmits_(retransmits) {}

  /// Starts resolving `handle` (`items`: elements wanted, 0 the registrar's
  /// default); returns the request to send.
  Message start(const std::string& handle, uint32_t items, uint64_t now_ms);

  /// One ASAP message from the registrar. Anything but the answer to the
  /// request is ignored (and counted).
  void received(std::span<const uint8_t> bytes);

  /// A retransmission of the request when one is due; after the last one
  /// times out, status() is timed_out.
  std::optional<Message> advance(uint64_t now_ms);
  uint64_t next_deadline() const { return status_ == Status::waiting ? deadline_ms_ : UINT64_MAX; }

  Status status() const { return status_; }
  /// resolved: the pool's elements, in the registrar's order; refused: its error.
  const std::vector<PoolElement>& elements() const { return elements_; }
  const std::optional<Policy>& overall_policy() const { return overall_policy_; }
  const std::vector<ErrorCause>& errors() const { return errors_; }
  uint64_t ignored() const { return ignored_; }

 private:
  uint32_t timeout_ms_;
  uint32_t retransmits_;
  Status status_ = Status::idle;
  Message request_;
  uint32_t tries_ = 0;
  uint64_t deadline_ms_ = 0;
  std::vector<PoolElement> elements_;
  std::optional<Policy> overall_policy_;
  std::vector<ErrorCause> errors_;
  uint64_t ignored_ = 0;
};

/// "<pe-id in hex> <sctp|tcp|udp>:<address>:<port> policy=<name> load=<percent>",
/// as poolflow-pool prints an element.
std::string describe(const PoolElement& e);

}  // namespace poolflow::rserpool
