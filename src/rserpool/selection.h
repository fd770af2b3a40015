// Member selection by the policies of RFC 5356, without I/O: the registrar
// orders a pool's elements for a handle resolution with it, and a pool user
// picks from its cache with it. Randomness comes from the caller's generator,
// so tests draw with a fixed seed.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "rserpool/message.h"

namespace poolflow::rserpool {

/// One pool element as a selector sees it.
struct Candidate {
  uint32_t id = 0;
  Policy policy;  ///< its own policy parameters (weight, priority, load...)
  /// Times it was selected since its load was last reported (least used with
  /// degradation adds policy.load_dpf for each).
  uint32_t selected_since_update = 0;
};

/// State a selector keeps between selections of one pool (the round robin
/// pointer). One per pool.
struct SelectionState {
  uint64_t round = 0;
};

/// Orders `candidates` for `policy` and returns their indexes, best first, at
/// most `max_items` (0: all), each at most once. Deterministic policies break
/// ties by position, rotated by `state.round`, which advances by one on every
/// call, so that equal candidates take turns (RFC 5356: round robin among
/// equals). Random policies draw from `rng`. Each policy's definition, and
/// what weight 0 and unknown types do, is in selection.cc.
std::vector<size_t> select(std::span<const Candidate> candidates, PolicyType policy,
                           SelectionState& state, std::mt19937_64& rng, size_t max_items = 0);

}  // namespace poolflow::rserpool
