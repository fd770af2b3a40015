// Member selection by the policies of RFC 5356. Each call orders the candidates once: the
// returned list is a permutation prefix (a handle resolution names a pool element at most once),
// and its first entry is "the" selection. "Ties take turns" below means: candidates with equal
// keys keep their order of position, rotated left by state.round modulo their number, so each
// leads its group once in that many consecutive calls (RFC 5356: round robin among equals).
//
// Non-adaptive policies (RFC 5356 §4):
// - Round robin (§4.1): the candidates rotated to start at position round mod n.
// - Weighted round robin (§4.2, weight): a member of weight w leads w times in each cycle of W
//   calls (W: the sum of the weights), spread evenly rather than in bursts, as 32-bit weights
//   make bursts arbitrarily long: its k-th turn of a cycle is at virtual time (k + 1/2) / w
//   (the Sainte-Laguë sequence), turns at the same time go by position, call `round` is turn
//   number round mod W, and the list orders the members by their next turn from there. Equal
//   weights give round robin.
// - Random (§4.3): uniform sampling without replacement.
// - Weighted random (§4.4, weight): sampling without replacement, each draw picking a member
//   with probability weight / (sum of the weights not drawn yet).
// - Priority (§4.5, priority): highest priority first; ties take turns.
// Adaptive policies (RFC 5356 §5; load: 0 is 0 %, kFullLoad is 100 %):
// - Least used (§5.1, load): lowest load first; ties take turns.
// - Least used with degradation (§5.2, load, load degradation): lowest load + degradation x
//   selections since the last load update first; ties take turns. The caller counts the
//   selections (Candidate::selected_since_update) and resets them with each update.
// - Priority least used (§5.3, load, load increment): lowest load + increment first; ties take
//   turns. The increment is added once, not per selection.
// - Randomized least used (§5.4, load): random, less likely the higher the load: weighted
//   random with weight kFullLoad - load (the unused capacity), as the RFC authors' reference
//   implementation (rsplib) weighs it.
//
// Weight 0 (and so, for randomized least used, full load): such a member never precedes one
// of positive weight. They follow all of those: taking turns for weighted round robin, in
// random order for the random policies. If no member has a positive weight, the pool is plain
// round robin or random. A type that RFC 5356 does not define is served as round robin, which
// needs no parameters.
//
// Loads are summed in 64 bits: load + selections x degradation is below 2^64 for any 32-bit
// values, so keys never wrap and order as the real sums do.
#include "rserpool/selection.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <numeric>

namespace poolflow::rserpool {
namespace {

using u128 = unsigned __int128;

uint64_t below(std::mt19937_64& rng, uint64_t bound) {
  return std::uniform_int_distribution<uint64_t>(0, bound - 1)(rng);
}

/// Sorts by `key`, lowest first; equal keys take turns.
template <typename Key>
void order_by_key(std::vector<size_t>& order, uint64_t round, Key key) {
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const uint64_t ka = key(a), kb = key(b);
    return ka != kb ? ka < kb : a < b;
  });
  for (auto run = order.begin(); run != order.end();) {
    const uint64_t k = key(*run);
    const auto end = std::find_if(run, order.end(), [&](size_t i) { return key(i) != k; });
    std::rotate(run, run + static_cast<ptrdiff_t>(round % static_cast<uint64_t>(end - run)), end);
    run = end;
  }
}

/// Uniform sampling without replacement into the first `count` places (partial Fisher-Yates).
void shuffle_prefix(std::span<size_t> order, size_t count, std::mt19937_64& rng) {
  for (size_t i = 0; i < count && i + 1 < order.size(); ++i)
    std::swap(order[i], order[i + below(rng, order.size() - i)]);
}

/// Sampling without replacement proportional to `weight`; weight-0 members come last, shuffled.
template <typename Weight>
void weighted_sample(std::vector<size_t>& order, size_t count, std::mt19937_64& rng,
                     Weight weight) {
  uint64_t total = 0;
  for (size_t i : order) total += weight(i);
  size_t pos = 0;
  for (; pos < count && total > 0; ++pos) {
    uint64_t r = below(rng, total);
    size_t j = pos;
    while (r >= weight(order[j])) r -= weight(order[j++]);
    total -= weight(order[j]);
    std::swap(order[pos], order[j]);
  }
  shuffle_prefix(std::span(order).subspan(pos), count - pos, rng);
}

/// A turn in the weighted round robin schedule: member i's k-th turn of a cycle, at virtual
/// time cycle + (2k + 1) / (2 w_i).
struct Turn {
  uint64_t cycle;
  uint64_t k;
  size_t slot;  ///< i's place among the members of positive weight
  size_t i;
};

void order_weighted_round_robin(std::span<const Candidate> c, std::vector<size_t>& order,
                                uint64_t round) {
  auto weight = [&](size_t i) -> uint64_t { return c[i].policy.weight; };
  // Positive weights first, then the zero weights taking turns, both by position.
  size_t n = 0;
  for (size_t i = 0; i < c.size(); ++i)
    if (weight(i) > 0) order[n++] = i;
  for (size_t i = 0, z = n; i < c.size(); ++i)
    if (weight(i) == 0) order[z++] = i;
  if (n < c.size()) {
    std::rotate(order.begin() + static_cast<ptrdiff_t>(n),
                order.begin() + static_cast<ptrdiff_t>(n + round % (c.size() - n)), order.end());
  }
  if (n == 0) return;

  uint64_t total = 0;
  for (size_t s = 0; s < n; ++s) total += weight(order[s]);
  const uint64_t p = round % total;
  // Exact comparison of virtual times: (2k+1) / (2w) against (2l+1) / (2v), cross-multiplied.
  auto earlier = [&](const Turn& x, const Turn& y) {
    if (x.cycle != y.cycle) return x.cycle < y.cycle;
    const u128 tx = u128(2 * x.k + 1) * weight(y.i), ty = u128(2 * y.k + 1) * weight(x.i);
    return tx != ty ? tx < ty : x.i < y.i;
  };
  // Turns before virtual time t number between tW - n/2 and tW + n/2, so turn p lies within
  // virtual times [a/W, b/W]. List the turns there (at most b - a + n of them): turn p is the
  // (p - the number of turns before a/W)-th of them.
  const uint64_t h = n / 2 + 1;
  const uint64_t a = p > h ? p - h : 0, b = std::min(total, p + h + 1);
  std::vector<Turn> window;
  window.reserve(b - a + n);
  std::vector<Turn> next(n);
  uint64_t before = 0;
  for (size_t s = 0; s < n; ++s) {
    const uint64_t w = weight(order[s]);
    // Turn k is at m / (2w) with m = 2k + 1: those before a/W have odd m < 2aw/W, those up to
    // b/W odd m <= 2bw/W.
    const auto lo = static_cast<uint64_t>((u128(a) * 2 * w + total - 1) / total / 2);
    const auto hi = static_cast<uint64_t>((u128(b) * 2 * w / total + 1) / 2);
    for (uint64_t k = lo; k < hi; ++k) window.push_back({0, k, s, order[s]});
    before += lo;
    next[s] = hi < w ? Turn{0, hi, s, order[s]} : Turn{1, 0, s, order[s]};
  }
  std::sort(window.begin(), window.end(), earlier);
  assert(before <= p && p - before < window.size());
  // Each member's next turn: its first in the window from turn p on, else its first after it.
  for (size_t x = window.size(); x-- > p - before;) next[window[x].slot] = window[x];
  std::sort(next.begin(), next.end(), earlier);
  for (size_t s = 0; s < n; ++s) order[s] = next[s].i;
}

}  // namespace

std::vector<size_t> select(std::span<const Candidate> candidates, PolicyType policy,
                           SelectionState& state, std::mt19937_64& rng, size_t max_items) {
  const uint64_t round = state.round++;
  const size_t n = candidates.size();
  const size_t count = max_items == 0 ? n : std::min(max_items, n);
  std::vector<size_t> order(n);
  if (n == 0) return order;
  std::iota(order.begin(), order.end(), size_t{0});
  const auto& c = candidates;
  switch (policy) {
    case PolicyType::weighted_round_robin:
      order_weighted_round_robin(c, order, round);
      break;
    case PolicyType::random:
      shuffle_prefix(order, count, rng);
      break;
    case PolicyType::weighted_random:
      weighted_sample(order, count, rng, [&](size_t i) -> uint64_t { return c[i].policy.weight; });
      break;
    case PolicyType::priority:
      order_by_key(order, round, [&](size_t i) -> uint64_t {
        return std::numeric_limits<uint32_t>::max() - c[i].policy.priority;
      });
      break;
    case PolicyType::least_used:
      order_by_key(order, round, [&](size_t i) -> uint64_t { return c[i].policy.load; });
      break;
    case PolicyType::least_used_degradation:
      order_by_key(order, round, [&](size_t i) {
        return c[i].policy.load + uint64_t{c[i].selected_since_update} * c[i].policy.load_dpf;
      });
      break;
    case PolicyType::priority_least_used:
      order_by_key(order, round,
                   [&](size_t i) { return uint64_t{c[i].policy.load} + c[i].policy.load_dpf; });
      break;
    case PolicyType::randomized_least_used:
      weighted_sample(order, count, rng,
                      [&](size_t i) -> uint64_t { return kFullLoad - c[i].policy.load; });
      break;
    case PolicyType::round_robin:
    default:
      std::rotate(order.begin(), order.begin() + static_cast<ptrdiff_t>(round % n), order.end());
      break;
  }
  order.resize(count);
  return order;
}

}  // namespace poolflow::rserpool
