// A pool user's side of ASAP (RFC 5352 §3.5-3.6, §3.8) without I/O: it keeps a
// home registrar, resolves one pool handle there, keeps the answer in a cache
// with a stale time, picks pool elements from the cache by the pool's policy
// (RFC 5356) and reports the ones it could not reach with ENDPOINT_UNREACHABLE.
//
// Registrars are known to it by index only; the adapter (poolflowd's control
// core, src/control/pool_output.cc) owns their addresses, those of the static
// list first and then those learnt from SERVER_ANNOUNCE. The hunt takes them in
// turn: a registrar whose association fails, or that leaves a request
// unanswered through T1 and every retransmission, is left for the next one.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "rserpool/message.h"
#include "rserpool/resolver.h"
#include "rserpool/selection.h"

namespace poolflow::rserpool {

struct PoolUserConfig {
  std::string handle;
  size_t registrars = 1;                  ///< known at start (the static list); announces add more
  uint32_t request_timeout_ms = 2000;     ///< T1-ENRPrequest
  uint32_t request_retransmits = 2;       ///< MAX-REQUEST-RETRANSMIT
  uint32_t reconnect_interval_ms = 1000;  ///< between tries of the next registrar
  /// A resolution is this old before the cache is stale and resolved again
  /// (RFC 5351's stale cache value).
  uint32_t stale_cache_ms = 5000;
  /// After an answer without elements (no pool yet, or every element gone):
  /// ask again this soon.
  uint32_t retry_interval_ms = 1000;
  uint32_t items = 0;  ///< elements asked for (0: the registrar's default)
  uint64_t seed = 0;   ///< for the random policies
};

struct PoolUserAction {
  enum class Kind : uint8_t { connect, disconnect, send };
  Kind kind = Kind::send;
  size_t registrar = 0;  ///< connect: which one
  Message message;       ///< send: on the association to the home registrar
};

struct PoolUserStats {
  uint64_t resolutions_sent = 0;  ///< HANDLE_RESOLUTIONs, retransmissions included
  uint64_t resolved = 0;          ///< answers with elements
  uint64_t empty = 0;             ///< answers without (unknown pool, refused)
  uint64_t unanswered = 0;        ///< requests that outlived every retransmission
  uint64_t associations_lost = 0;
  uint64_t rehomed = 0;  ///< the home registrar changed (the first one counts)
  uint64_t selected = 0;
  uint64_t reported_unreachable = 0;  ///< ENDPOINT_UNREACHABLEs sent
  uint64_t ignored = 0;               ///< messages that were not an answer to us
};

class PoolUser {
 public:
  enum class State : uint8_t {
    idle,
    waiting,     ///< before the next try of a registrar
    connecting,  ///< the association is asked for
    associated,  ///< with the home registrar (or the one being tried)
  };

  explicit PoolUser(PoolUserConfig config);

  /// Starts: asks for an association to the first registrar.
  void start(uint64_t now_ms);
  /// One more registrar (learnt from an announce); returns its index.
  size_t add_registrar() { return config_.registrars++; }

  /// The association asked for is up / is gone.
  void association_up(uint64_t now_ms);
  void association_down(uint64_t now_ms);
  /// One ASAP message from the registrar.
  void received(std::span<const uint8_t> bytes, uint64_t now_ms);
  /// Runs what is due: retransmissions, the hunt, stale-cache resolutions.
  void advance(uint64_t now_ms);
  uint64_t next_deadline() const;

  /// A pool element by the pool's policy among the cached ones whose ids are
  /// not in `in_use`; none when the cache has no other.
  std::optional<PoolElement> select(std::span<const uint32_t> in_use);
  /// `id` could not be reached: it leaves the cache (and stays out of it for a
  /// stale-cache time), the home registrar hears of it (now, or once an
  /// association is up) and the pool is resolved again.
  void unreachable(uint32_t id, uint64_t now_ms);

  std::vector<PoolUserAction> take_actions() { return std::exchange(actions_, {}); }
  State state() const { return state_; }
  /// The registrar being tried or the home one; home() once it has answered.
  size_t registrar() const { return registrar_; }
  std::optional<size_t> home() const { return home_; }
  const std::vector<PoolElement>& cache() const { return cache_; }
  /// Changes whenever the cache does, so that the adapter knows when a
  /// selection that found nothing may find something now.
  uint64_t cache_version() const { return cache_version_; }
  /// The policy the cache was resolved with (the pool's; round robin before).
  PolicyType policy() const { return policy_; }
  const PoolUserStats& stats() const { return stats_; }
  const PoolUserConfig& config() const { return config_; }

 private:
  void resolve(uint64_t now_ms);
  void hunt(uint64_t now_ms);  ///< drop the association, try the next registrar later
  void answered(uint64_t now_ms);
  void act(PoolUserAction::Kind kind, Message m = {}) {
    actions_.push_back({kind, registrar_, std::move(m)});
  }

  PoolUserConfig config_;
  State state_ = State::idle;
  size_t registrar_ = 0;
  std::optional<size_t> home_;
  uint64_t reconnect_at_ms_ = UINT64_MAX;  ///< waiting: when to try the next registrar
  uint64_t resolve_at_ms_ = UINT64_MAX;    ///< associated, no request out: next resolution
  HandleResolver resolver_;
  std::vector<PoolElement> cache_;
  uint64_t cache_version_ = 0;
  PolicyType policy_ = PolicyType::round_robin;
  /// Per cached id: selections since its load was last reported (least used
  /// with degradation).
  std::unordered_map<uint32_t, uint32_t> selected_since_update_;
  std::vector<uint32_t> unreported_;  ///< unreachable ids to tell the next home registrar
  /// Unreachable ids kept out of the cache until then (ms): the registrar may
  /// list one for a while yet, until enough users reported it.
  std::unordered_map<uint32_t, uint64_t> shunned_until_;
  SelectionState selection_;
  std::mt19937_64 rng_;
  std::vector<PoolUserAction> actions_;
  PoolUserStats stats_;
};

}  // namespace poolflow::rserpool
