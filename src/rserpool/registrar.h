// The registrar's (ENRP server's) ASAP side as a state machine without I/O:
// messages and time go in, messages to send and the next timer come out. It
// keeps the handlespace (pools of pool elements, one policy per pool), checks
// registrations as RFC 5352 §3.1-3.3 asks, audits the elements it is home for
// with ENDPOINT_KEEP_ALIVE, expires registrations, counts ENDPOINT_UNREACHABLE
// reports and answers handle resolutions in the order of the pool's policy.
// The adapter (src/app/poolflow_registrar.cc) runs it on usrsctp.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "rserpool/codec.h"
#include "rserpool/message.h"
#include "rserpool/selection.h"

namespace poolflow::rserpool {

struct RegistrarConfig {
  uint32_t server_id = 1;
  bool allow_loopback = false;  ///< accept loopback addresses in registrations (tests)
  uint32_t max_pools = 1000;
  uint32_t max_elements_per_pool = 1000;
  uint32_t max_elements_per_peer = 1000;  ///< registered over associations from one address
  uint32_t max_associations_per_peer = 64;
  uint32_t max_handle_length = 64;
  uint32_t max_message_size = 4096;
  int32_t min_registration_life_ms = 1000;
  int32_t max_registration_life_ms = 3'600'000;
  uint32_t keep_alive_interval_ms = 5000;  ///< between audits of an element homed here
  uint32_t keep_alive_timeout_ms = 5000;   ///< unanswered this long: removed
  uint32_t max_bad_pe_reports = 3;         ///< ENDPOINT_UNREACHABLE reports that remove it
  uint32_t max_resolution_items = 0;       ///< elements in a resolution answer; 0: all
  uint32_t max_bad_messages = 16;          ///< malformed messages before an association is aborted
};

/// A message for the adapter to send on an association, or an abort.
struct Outgoing {
  uint64_t association = 0;
  Message message;
  bool abort = false;  ///< abort the association (nothing to send)
};

struct RegistrarStats {
  uint64_t messages = 0;
  uint64_t registrations = 0;  ///< accepted, first time
  uint64_t reregistrations = 0;
  uint64_t registrations_rejected = 0;
  std::array<uint64_t, 11> rejects_by_cause{};
  uint64_t deregistrations = 0;
  uint64_t resolutions = 0;
  uint64_t resolutions_unknown_pool = 0;
  uint64_t keep_alives_sent = 0;
  uint64_t keep_alive_acks = 0;
  uint64_t removed_keep_alive = 0;   ///< unanswered keep-alive
  uint64_t removed_association = 0;  ///< their ASAP association was lost
  uint64_t removed_expired = 0;      ///< registration life ran out
  uint64_t removed_unreachable = 0;  ///< ENDPOINT_UNREACHABLE reports
  uint64_t unreachable_reports = 0;
  uint64_t unreachable_unknown = 0;  ///< reports of elements not in the handlespace
  uint64_t malformed = 0;            ///< messages that did not decode
  std::array<uint64_t, kDecodeErrorCount> malformed_by_error{};
  uint64_t unexpected = 0;  ///< well-formed, but not for a registrar
  uint64_t unknown_parameters_reported = 0;
  uint64_t associations_refused = 0;  ///< over max_associations_per_peer
  uint64_t associations_aborted = 0;  ///< too many malformed messages
};

class Registrar {
 public:
  explicit Registrar(RegistrarConfig config, uint64_t seed = std::random_device{}());

  /// An ASAP association came up from `peer`. False: refuse it (the caller
  /// aborts it); the refusal is counted.
  bool association_up(uint64_t association, const Address& peer, uint64_t now_ms);
  /// It is gone: every element registered over it is removed.
  void association_down(uint64_t association, uint64_t now_ms);

  /// One message as received on `association` (PPID 11).
  void received(uint64_t association, std::span<const uint8_t> bytes, uint64_t now_ms);

  /// Runs what is due at `now_ms`: keep-alives, their timeouts, expiries.
  void advance(uint64_t now_ms);
  /// When advance() next has something to do (UINT64_MAX: nothing).
  uint64_t next_deadline() const;

  /// What to send since the last call.
  std::vector<Outgoing> take_outgoing() { return std::exchange(outgoing_, {}); }

  const RegistrarStats& stats() const { return stats_; }
  size_t pool_count() const { return pools_.size(); }
  size_t element_count() const { return elements_; }
  /// The handlespace, one line per pool and per element.
  std::string dump(uint64_t now_ms) const;
  /// The elements of `handle` as a resolution would order them (tests, tools).
  std::vector<PoolElement> resolve(const std::string& handle);

 private:
  struct Element {
    PoolElement pe;
    uint64_t association = 0;
    Address peer;
    uint64_t registered_ms = 0;
    uint64_t expires_ms = 0;
    uint64_t next_keep_alive_ms = 0;      ///< when the next audit is due
    uint64_t keep_alive_deadline_ms = 0;  ///< 0: no keep-alive outstanding
    uint32_t unreachable_reports = 0;
    uint32_t selected_since_update = 0;
    uint64_t timer_ms = 0;  ///< its key in timers_: the earliest of the times above
  };
  struct Pool {
    uint32_t policy = 0;
    TransportKind transport = TransportKind::sctp;
    uint16_t transport_use = 0;
    std::map<uint32_t, Element> elements;  ///< by PE identifier
    SelectionState selection;
  };
  struct Association {
    Address peer;
    uint32_t bad_messages = 0;
  };

  void handle(uint64_t association, const Message& m, uint64_t now_ms);
  void on_registration(uint64_t association, const Message& m, uint64_t now_ms);
  void on_deregistration(uint64_t association, const Message& m);
  void on_resolution(uint64_t association, const Message& m);
  void on_keep_alive_ack(uint64_t association, const Message& m, uint64_t now_ms);
  void on_unreachable(const Message& m);
  struct Rejection {
    Cause cause;
    std::vector<uint8_t> info;  ///< the offending parameter, as on the wire
  };
  /// Nothing when the registration may go ahead, else why it may not.
  std::optional<Rejection> check_registration(uint64_t association, const std::string& handle,
                                              const PoolElement& pe, Pool* pool,
                                              const Element* existing) const;
  void reject_registration(uint64_t association, const Message& m, Cause cause,
                           std::span<const uint8_t> info = {});
  void remove(const std::string& handle, uint32_t id, uint64_t& counter, const char* why);
  /// Re-files the element's timer after one of its times changed.
  void schedule(const std::string& handle, Element& e);
  void send(uint64_t association, Message m) { outgoing_.push_back({association, std::move(m)}); }
  std::vector<PoolElement> ordered(Pool& pool, uint32_t max_items);

  RegistrarConfig config_;
  std::mt19937_64 rng_;
  std::unordered_map<std::string, Pool> pools_;
  std::unordered_map<uint64_t, Association> associations_;
  std::map<Address, uint32_t> elements_per_peer_;
  std::map<Address, uint32_t> associations_per_peer_;
  size_t elements_ = 0;
  std::set<std::tuple<uint64_t, std::string, uint32_t>> timers_;  ///< (when, handle, PE id)
  std::vector<Outgoing> outgoing_;
  RegistrarStats stats_;
};

}  // namespace poolflow::rserpool
