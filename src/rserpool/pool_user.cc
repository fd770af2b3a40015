#include "rserpool/pool_user.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "rserpool/codec.h"

namespace poolflow::rserpool {

namespace {
constexpr size_t kMaxUnreported = 64;
}

PoolUser::PoolUser(PoolUserConfig config)
    : config_(std::move(config)),
      resolver_(config_.request_timeout_ms, config_.request_retransmits),
      rng_(config_.seed) {}

void PoolUser::start(uint64_t now_ms) {
  registrar_ = 0;
  state_ = State::connecting;
  act(PoolUserAction::Kind::connect);
  // An association that neither comes up nor fails in T1 is given up on too.
  reconnect_at_ms_ = now_ms + config_.request_timeout_ms;
}

void PoolUser::association_up(uint64_t now_ms) {
  if (state_ != State::connecting) return;
  state_ = State::associated;
  reconnect_at_ms_ = UINT64_MAX;
  // What could not be reported to the last home registrar goes to this one.
  for (const uint32_t id : std::exchange(unreported_, {})) {
    Message m = Message::asap(AsapType::endpoint_unreachable);
    m.pool_handle = config_.handle;
    m.pe_id = id;
    act(PoolUserAction::Kind::send, std::move(m));
    ++stats_.reported_unreachable;
  }
  resolve(now_ms);
}

void PoolUser::association_down(uint64_t now_ms) {
  if (state_ != State::connecting && state_ != State::associated) return;
  ++stats_.associations_lost;
  if (home_ && *home_ == registrar_)
    spdlog::info("pool {}: association with home registrar #{} lost; hunting", config_.handle,
                 registrar_);
  hunt(now_ms);
}

void PoolUser::hunt(uint64_t now_ms) {
  act(PoolUserAction::Kind::disconnect);
  registrar_ = (registrar_ + 1) % std::max<size_t>(config_.registrars, 1);
  state_ = State::waiting;
  resolve_at_ms_ = UINT64_MAX;
  reconnect_at_ms_ = now_ms + config_.reconnect_interval_ms;
}

void PoolUser::resolve(uint64_t now_ms) {
  act(PoolUserAction::Kind::send, resolver_.start(config_.handle, config_.items, now_ms));
  ++stats_.resolutions_sent;
  resolve_at_ms_ = UINT64_MAX;
}

void PoolUser::received(std::span<const uint8_t> bytes, uint64_t now_ms) {
  if (state_ != State::associated) {
    ++stats_.ignored;
    return;
  }
  const uint64_t ignored_before = resolver_.ignored();
  resolver_.received(bytes);
  if (resolver_.ignored() != ignored_before) {
    ++stats_.ignored;
    return;
  }
  answered(now_ms);
}

void PoolUser::answered(uint64_t now_ms) {
  if (!home_ || *home_ != registrar_) {
    ++stats_.rehomed;
    spdlog::info("pool {}: home registrar is #{}{}", config_.handle, registrar_,
                 home_ ? fmt::format(" (was #{})", *home_) : "");
    home_ = registrar_;
  }
  std::vector<PoolElement> elements = resolver_.status() == HandleResolver::Status::resolved
                                          ? resolver_.elements()
                                          : std::vector<PoolElement>{};
  std::erase_if(shunned_until_, [&](const auto& s) { return s.second <= now_ms; });
  std::erase_if(elements, [&](const PoolElement& e) { return shunned_until_.count(e.id) != 0; });
  // The registrar's order is its own selection; the cache keeps one order of
  // its own so that round robin here goes round.
  std::sort(elements.begin(), elements.end(),
            [](const PoolElement& a, const PoolElement& b) { return a.id < b.id; });
  std::unordered_map<uint32_t, uint32_t> counts;
  for (const PoolElement& e : elements) {
    // A load report starts the degradation over; an unchanged one does not.
    const auto old = std::find_if(cache_.begin(), cache_.end(),
                                  [&](const PoolElement& c) { return c.id == e.id; });
    const auto seen = selected_since_update_.find(e.id);
    counts[e.id] = old != cache_.end() && old->policy.load == e.policy.load &&
                           seen != selected_since_update_.end()
                       ? seen->second
                       : 0;
  }
  const bool changed = elements != cache_ || stats_.resolved + stats_.empty == 0;
  if (!elements.empty()) {
    ++stats_.resolved;
    policy_ = PolicyType(resolver_.overall_policy() ? resolver_.overall_policy()->type
                                                    : elements.front().policy.type);
    resolve_at_ms_ = now_ms + config_.stale_cache_ms;
  } else {
    ++stats_.empty;
    resolve_at_ms_ = now_ms + config_.retry_interval_ms;
  }
  if (changed) {
    ++cache_version_;
    if (elements.empty())
      spdlog::info(
          "pool {}: {}", config_.handle,
          resolver_.errors().empty()
              ? std::string("no pool elements")
              : fmt::format("no pool elements ({})", cause_name(resolver_.errors().front().code)));
    else
      spdlog::info("pool {}: resolved to {} pool element(s)", config_.handle, elements.size());
  }
  cache_ = std::move(elements);
  selected_since_update_ = std::move(counts);
}

void PoolUser::advance(uint64_t now_ms) {
  switch (state_) {
    case State::waiting:
    case State::connecting:
      if (now_ms < reconnect_at_ms_) return;
      if (state_ == State::connecting) {
        hunt(now_ms);  // the association neither came up nor failed
        return;
      }
      state_ = State::connecting;
      act(PoolUserAction::Kind::connect);
      reconnect_at_ms_ = now_ms + config_.request_timeout_ms;
      return;
    case State::associated:
      if (resolver_.status() == HandleResolver::Status::waiting) {
        if (auto again = resolver_.advance(now_ms)) {
          act(PoolUserAction::Kind::send, std::move(*again));
          ++stats_.resolutions_sent;
        } else if (resolver_.status() == HandleResolver::Status::timed_out) {
          ++stats_.unanswered;
          spdlog::info("pool {}: registrar #{} left a resolution unanswered; hunting",
                       config_.handle, registrar_);
          hunt(now_ms);
        }
      } else if (now_ms >= resolve_at_ms_) {
        resolve(now_ms);
      }
      return;
    case State::idle:
      return;
  }
}

uint64_t PoolUser::next_deadline() const {
  switch (state_) {
    case State::waiting:
    case State::connecting:
      return reconnect_at_ms_;
    case State::associated:
      return resolver_.status() == HandleResolver::Status::waiting ? resolver_.next_deadline()
                                                                   : resolve_at_ms_;
    case State::idle:
      break;
  }
  return UINT64_MAX;
}

std::optional<PoolElement> PoolUser::select(std::span<const uint32_t> in_use) {
  std::vector<Candidate> candidates;
  std::vector<size_t> cached;  // candidate index -> cache index
  for (size_t i = 0; i < cache_.size(); ++i) {
    if (std::find(in_use.begin(), in_use.end(), cache_[i].id) != in_use.end()) continue;
    candidates.push_back({cache_[i].id, cache_[i].policy, selected_since_update_[cache_[i].id]});
    cached.push_back(i);
  }
  if (candidates.empty()) return std::nullopt;
  const std::vector<size_t> order = rserpool::select(candidates, policy_, selection_, rng_, 1);
  const PoolElement& chosen = cache_[cached[order.front()]];
  ++selected_since_update_[chosen.id];
  ++stats_.selected;
  return chosen;
}

void PoolUser::unreachable(uint32_t id, uint64_t now_ms) {
  const auto it =
      std::find_if(cache_.begin(), cache_.end(), [&](const PoolElement& e) { return e.id == id; });
  if (it != cache_.end()) {
    cache_.erase(it);
    selected_since_update_.erase(id);
    ++cache_version_;
  }
  shunned_until_[id] = now_ms + config_.stale_cache_ms;
  if (state_ == State::associated) {
    Message m = Message::asap(AsapType::endpoint_unreachable);
    m.pool_handle = config_.handle;
    m.pe_id = id;
    act(PoolUserAction::Kind::send, std::move(m));
    ++stats_.reported_unreachable;
    // A fresh view of the pool, unless one is on its way already.
    if (resolver_.status() != HandleResolver::Status::waiting) resolve(now_ms);
  } else if (unreported_.size() < kMaxUnreported &&
             std::find(unreported_.begin(), unreported_.end(), id) == unreported_.end()) {
    unreported_.push_back(id);
  }
}

}  // namespace poolflow::rserpool
