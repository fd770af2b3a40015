// The RFC 5356 policies order the candidates as the RFC defines: checked by order for the
// deterministic ones and by distribution over many draws (fixed seeds) for the random ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <vector>

#include "rserpool/selection.h"

namespace poolflow::rserpool {
namespace {

constexpr std::array kAllPolicies = {
    PolicyType::round_robin,
    PolicyType::weighted_round_robin,
    PolicyType::random,
    PolicyType::weighted_random,
    PolicyType::priority,
    PolicyType::least_used,
    PolicyType::least_used_degradation,
    PolicyType::priority_least_used,
    PolicyType::randomized_least_used,
};

std::vector<Candidate> with_weights(const std::vector<uint32_t>& weights) {
  std::vector<Candidate> c;
  for (uint32_t w : weights) c.push_back({uint32_t(c.size() + 1), {.weight = w}});
  return c;
}

std::vector<Candidate> with_loads(const std::vector<uint32_t>& loads,
                                  const std::vector<uint32_t>& dpf = {},
                                  const std::vector<uint32_t>& selected = {}) {
  std::vector<Candidate> c;
  for (size_t i = 0; i < loads.size(); ++i) {
    c.push_back({uint32_t(i + 1),
                 {.load = loads[i], .load_dpf = dpf.empty() ? 0 : dpf[i]},
                 selected.empty() ? 0 : selected[i]});
  }
  return c;
}

std::vector<size_t> rotation(size_t n, size_t first) {
  std::vector<size_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = (first + i) % n;
  return v;
}

/// Counts how often each candidate is listed at `position` over `draws` calls.
std::vector<int> position_counts(const std::vector<Candidate>& c, PolicyType policy, int draws,
                                 size_t position = 0, uint64_t seed = 1) {
  SelectionState state;
  std::mt19937_64 rng(seed);
  std::vector<int> counts(c.size());
  for (int d = 0; d < draws; ++d) ++counts[select(c, policy, state, rng)[position]];
  return counts;
}

/// Pearson's chi-square of observed counts against expected probabilities (zero ones must
/// not be observed).
double chi_square(const std::vector<int>& observed, const std::vector<double>& p) {
  const double total = std::accumulate(observed.begin(), observed.end(), 0.0);
  double chi = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == 0) {
      EXPECT_EQ(observed[i], 0) << "candidate " << i << " has probability 0";
      continue;
    }
    const double e = total * p[i];
    chi += (observed[i] - e) * (observed[i] - e) / e;
  }
  return chi;
}

// Chi-square at p = 0.001 for 2, 3 and 4 degrees of freedom: a right implementation passes
// with any seed 999 times in 1000; one that ignores the weights exceeds these by far.
constexpr double kChi2 = 13.82, kChi3 = 16.27, kChi4 = 18.47;

std::vector<double> normalized(std::vector<double> v) {
  const double sum = std::accumulate(v.begin(), v.end(), 0.0);
  for (double& x : v) x /= sum;
  return v;
}

TEST(Selection, EmptyPoolSelectsNothing) {
  SelectionState state;
  std::mt19937_64 rng(1);
  for (PolicyType policy : kAllPolicies) {
    EXPECT_TRUE(select({}, policy, state, rng).empty());
    EXPECT_TRUE(select({}, policy, state, rng, 3).empty());
  }
}

TEST(Selection, SingleCandidateIsAlwaysSelected) {
  const std::vector<Candidate> one = {{7, {.weight = 0, .priority = 3, .load = kFullLoad}, 9}};
  SelectionState state;
  std::mt19937_64 rng(1);
  for (PolicyType policy : kAllPolicies) {
    for (int call = 0; call < 5; ++call) {
      EXPECT_EQ(select(one, policy, state, rng), std::vector<size_t>{0});
    }
  }
}

TEST(Selection, EveryPolicyListsEachCandidateOnceAndAdvancesTheRound) {
  std::mt19937 gen(3);
  auto param = [&](uint32_t bound) { return uint32_t(gen() % bound); };
  std::vector<Candidate> c;
  for (uint32_t i = 0; i < 9; ++i) {
    c.push_back({i + 1,
                 {.weight = param(4),  // some zero
                  .priority = param(3),
                  .load = uint32_t(gen()),
                  .load_dpf = param(1000)},
                 param(5)});
  }
  std::mt19937_64 rng(4);
  for (PolicyType policy : kAllPolicies) {
    SelectionState state{.round = 1000};
    for (int call = 0; call < 50; ++call) {
      std::vector<size_t> order = select(c, policy, state, rng);
      std::sort(order.begin(), order.end());
      std::vector<size_t> all(c.size());
      std::iota(all.begin(), all.end(), size_t{0});
      ASSERT_EQ(order, all) << "policy " << uint32_t(policy);
    }
    EXPECT_EQ(state.round, 1050u);
  }
}

TEST(Selection, MaxItemsTruncatesTheFullOrder) {
  const auto c = with_weights({3, 1, 4, 1, 5});
  for (PolicyType policy : kAllPolicies) {
    for (size_t max : {size_t{1}, size_t{2}, size_t{5}, size_t{9}}) {
      SelectionState full_state{.round = 17}, cut_state{.round = 17};
      std::mt19937_64 full_rng(8), cut_rng(8);
      const auto cut = select(c, policy, cut_state, cut_rng, max);
      ASSERT_EQ(cut.size(), std::min<size_t>(max, c.size()));
      if (policy == PolicyType::random || policy == PolicyType::weighted_random ||
          policy == PolicyType::randomized_least_used) {
        continue;  // they draw only what they list, so the random stream differs
      }
      const auto full = select(c, policy, full_state, full_rng);
      EXPECT_TRUE(std::equal(cut.begin(), cut.end(), full.begin())) << uint32_t(policy);
    }
  }
}

TEST(Selection, UnknownPolicyIsRoundRobin) {
  const auto c = with_weights({1, 1, 1});
  SelectionState state;
  std::mt19937_64 rng(1);
  for (size_t call = 0; call < 6; ++call) {
    EXPECT_EQ(select(c, PolicyType(0x12345678), state, rng), rotation(3, call % 3));
  }
}

// --- Round robin (RFC 5356 §4.1) ---

TEST(RoundRobin, ListIsARotationAdvancingByOnePerCall) {
  const auto c = with_weights({0, 0, 0, 0, 0});
  SelectionState state;
  std::mt19937_64 rng(1);
  for (size_t call = 0; call < 12; ++call) {
    EXPECT_EQ(select(c, PolicyType::round_robin, state, rng), rotation(5, call % 5));
  }
}

TEST(RoundRobin, EachMemberLeadsOncePerNCalls) {
  const auto c = with_weights({9, 1, 0, 4, 2, 7, 3});  // parameters play no part
  const auto counts = position_counts(c, PolicyType::round_robin, 7 * 30);
  EXPECT_EQ(counts, std::vector<int>(7, 30));
}

// --- Weighted round robin (RFC 5356 §4.2) ---

/// The schedule as defined: every turn of every member, sorted by virtual time, then position.
std::vector<size_t> reference_schedule(const std::vector<uint32_t>& weights) {
  struct Turn {
    double time;
    size_t member;
  };
  std::vector<Turn> turns;
  for (size_t i = 0; i < weights.size(); ++i) {
    for (uint32_t k = 0; k < weights[i]; ++k) turns.push_back({(k + 0.5) / weights[i], i});
  }
  std::sort(turns.begin(), turns.end(), [](const Turn& x, const Turn& y) {
    return x.time != y.time ? x.time < y.time : x.member < y.member;
  });
  std::vector<size_t> schedule;
  for (const Turn& t : turns) schedule.push_back(t.member);
  return schedule;
}

TEST(WeightedRoundRobin, FirstsFollowTheScheduleAndCountExactlyTheWeights) {
  const std::vector<uint32_t> weights = {1, 2, 3, 4};
  const auto c = with_weights(weights);
  const auto schedule = reference_schedule(weights);
  SelectionState state;
  std::mt19937_64 rng(1);
  std::vector<int> counts(4);
  for (size_t call = 0; call < 10 * 20; ++call) {
    const size_t first = select(c, PolicyType::weighted_round_robin, state, rng)[0];
    EXPECT_EQ(first, schedule[call % 10]) << "call " << call;
    ++counts[first];
  }
  EXPECT_EQ(counts, (std::vector<int>{20, 40, 60, 80}));
}

TEST(WeightedRoundRobin, ListOrdersMembersByTheirNextTurn) {
  // Random pools, checked against the enumerated schedule: at call p, member m's place is set
  // by the first call q >= p that it leads.
  std::mt19937 gen(11);
  for (int pool = 0; pool < 40; ++pool) {
    std::vector<uint32_t> weights(1 + gen() % 12);
    for (uint32_t& w : weights) w = 1 + gen() % 9;
    const auto c = with_weights(weights);
    const auto schedule = reference_schedule(weights);
    const size_t cycle = schedule.size();
    std::mt19937_64 rng(1);
    for (size_t p = 0; p < cycle; ++p) {
      std::vector<size_t> expected(weights.size());
      std::iota(expected.begin(), expected.end(), size_t{0});
      auto next_turn = [&](size_t m) {
        size_t q = p;
        while (schedule[q % cycle] != m) ++q;
        return q;
      };
      std::sort(expected.begin(), expected.end(),
                [&](size_t x, size_t y) { return next_turn(x) < next_turn(y); });
      SelectionState state{.round = p + cycle * 1000};  // any cycle
      ASSERT_EQ(select(c, PolicyType::weighted_round_robin, state, rng), expected)
          << "pool " << pool << " call " << p;
    }
  }
}

TEST(WeightedRoundRobin, LargeWeightsInterleaveRatherThanBurst) {
  // 1:2 with 32-bit weights: a schedule that served one member weight-many times in a row
  // would give about 1500:1500 in any short stretch.
  const auto c = with_weights({0x7fffffff, 0xfffffffe});
  for (uint64_t start : {uint64_t{0}, uint64_t{0x123456789ab}, 2 * uint64_t{0x17ffffffd} - 1500}) {
    SelectionState state{.round = start};
    std::mt19937_64 rng(1);
    std::vector<int> counts(2);
    for (int call = 0; call < 3000; ++call) {
      ++counts[select(c, PolicyType::weighted_round_robin, state, rng)[0]];
    }
    EXPECT_NEAR(counts[0], 1000, 3) << "from round " << start;
    EXPECT_NEAR(counts[1], 2000, 3) << "from round " << start;
  }
}

TEST(WeightedRoundRobin, EvenlySpreadWithinACycle) {
  const std::vector<uint32_t> weights = {3, 5, 7, 11};
  const auto c = with_weights(weights);
  SelectionState state;
  std::mt19937_64 rng(1);
  std::vector<int> counts(4);
  for (int call = 1; call <= 26; ++call) {
    ++counts[select(c, PolicyType::weighted_round_robin, state, rng)[0]];
    for (size_t m = 0; m < 4; ++m) {
      EXPECT_LE(std::abs(counts[m] - call * weights[m] / 26.0), 1.5)
          << "member " << m << " after " << call << " calls";
    }
  }
}

TEST(WeightedRoundRobin, EqualWeightsAreRoundRobin) {
  const auto c = with_weights({5, 5, 5, 5});
  SelectionState state;
  std::mt19937_64 rng(1);
  for (size_t call = 0; call < 25; ++call) {
    EXPECT_EQ(select(c, PolicyType::weighted_round_robin, state, rng), rotation(4, call % 4));
  }
}

TEST(WeightedRoundRobin, ZeroWeightsFollowAndTakeTurns) {
  const auto c = with_weights({0, 2, 0, 1});
  SelectionState state;
  std::mt19937_64 rng(1);
  std::map<std::vector<size_t>, int> tails;
  for (int call = 0; call < 6; ++call) {
    const auto order = select(c, PolicyType::weighted_round_robin, state, rng);
    EXPECT_EQ(std::min(order[0], order[1]), 1u);
    EXPECT_EQ(std::max(order[0], order[1]), 3u);
    ++tails[{order[2], order[3]}];
  }
  EXPECT_EQ(tails, (std::map<std::vector<size_t>, int>{{{0, 2}, 3}, {{2, 0}, 3}}));
}

TEST(WeightedRoundRobin, AllZeroWeightsAreRoundRobin) {
  const auto c = with_weights({0, 0, 0});
  SelectionState state;
  std::mt19937_64 rng(1);
  for (size_t call = 0; call < 6; ++call) {
    EXPECT_EQ(select(c, PolicyType::weighted_round_robin, state, rng), rotation(3, call % 3));
  }
}

TEST(WeightedRoundRobin, ManyMembersCountExactlyOverACycle) {
  std::mt19937 gen(5);
  std::vector<uint32_t> weights(40);
  for (uint32_t& w : weights) w = 1 + gen() % 20;
  const auto c = with_weights(weights);
  const int cycle = std::accumulate(weights.begin(), weights.end(), 0);
  SelectionState state{.round = 777};
  std::mt19937_64 rng(1);
  std::vector<int> counts(weights.size());
  for (int call = 0; call < cycle; ++call) {
    ++counts[select(c, PolicyType::weighted_round_robin, state, rng)[0]];
  }
  EXPECT_EQ(counts, std::vector<int>(weights.begin(), weights.end()));
}

// --- Random (RFC 5356 §4.3) ---

TEST(Random, EveryPlaceIsUniform) {
  const auto c = with_weights({9, 0, 1, 1, 1});  // weights play no part
  const std::vector<double> uniform(5, 0.2);
  for (size_t place = 0; place < 5; ++place) {
    EXPECT_LT(chi_square(position_counts(c, PolicyType::random, 10000, place), uniform), kChi4)
        << "place " << place;
  }
}

TEST(Random, ChiSquareRejectsABiasedDraw) {
  // The bound is tight enough to fail an implementation that favors one member a little.
  EXPECT_GT(chi_square({2300, 1925, 1925, 1925, 1925}, std::vector<double>(5, 0.2)), kChi4);
}

// --- Weighted random (RFC 5356 §4.4) ---

TEST(WeightedRandom, FirstIsProportionalToWeight) {
  const auto c = with_weights({1, 2, 3, 4});
  EXPECT_LT(
      chi_square(position_counts(c, PolicyType::weighted_random, 10000), {0.1, 0.2, 0.3, 0.4}),
      kChi3);
}

TEST(WeightedRandom, SecondIsDrawnWithoutReplacement) {
  // P(second = j) = sum over i != j of w_i / W * w_j / (W - w_i).
  const std::vector<double> w = {1, 2, 3, 4};
  std::vector<double> p(4);
  for (size_t j = 0; j < 4; ++j) {
    for (size_t i = 0; i < 4; ++i) {
      if (i != j) p[j] += w[i] / 10 * w[j] / (10 - w[i]);
    }
  }
  const auto c = with_weights({1, 2, 3, 4});
  EXPECT_LT(chi_square(position_counts(c, PolicyType::weighted_random, 10000, 1), p), kChi3);
}

TEST(WeightedRandom, ZeroWeightsComeLastInRandomOrder) {
  const auto c = with_weights({0, 5, 0, 1, 0});
  SelectionState state;
  std::mt19937_64 rng(2);
  std::vector<int> third(5);
  for (int draw = 0; draw < 3000; ++draw) {
    const auto order = select(c, PolicyType::weighted_random, state, rng);
    ASSERT_TRUE((order[0] == 1 && order[1] == 3) || (order[0] == 3 && order[1] == 1));
    ++third[order[2]];
  }
  EXPECT_LT(chi_square(third, {1.0 / 3, 0, 1.0 / 3, 0, 1.0 / 3}), kChi2);
}

TEST(WeightedRandom, AllZeroWeightsAreRandom) {
  const auto c = with_weights({0, 0, 0, 0, 0});
  EXPECT_LT(chi_square(position_counts(c, PolicyType::weighted_random, 10000),
                       std::vector<double>(5, 0.2)),
            kChi4);
}

TEST(WeightedRandom, LargeWeightsDoNotOverflow) {
  const auto c = with_weights({0xffffffff, 0xffffffff, 0xffffffff, 0x7fffffff});
  EXPECT_LT(
      chi_square(position_counts(c, PolicyType::weighted_random, 10000), normalized({2, 2, 2, 1})),
      kChi3);
}

// --- Priority (RFC 5356 §4.5) ---

TEST(Priority, HighestFirstEqualsTakeTurns) {
  std::vector<Candidate> c;
  for (uint32_t prio : {5u, 9u, 9u, 1u, 5u, 0xffffffffu}) {
    c.push_back({uint32_t(c.size() + 1), {.priority = prio}});
  }
  SelectionState state;
  std::mt19937_64 rng(1);
  EXPECT_EQ(select(c, PolicyType::priority, state, rng), (std::vector<size_t>{5, 1, 2, 0, 4, 3}));
  EXPECT_EQ(select(c, PolicyType::priority, state, rng), (std::vector<size_t>{5, 2, 1, 4, 0, 3}));
  EXPECT_EQ(select(c, PolicyType::priority, state, rng), (std::vector<size_t>{5, 1, 2, 0, 4, 3}));
}

TEST(Priority, TiedHighestShareTheLeadEqually) {
  std::vector<Candidate> c;
  for (uint32_t prio : {7u, 3u, 7u, 7u}) c.push_back({uint32_t(c.size() + 1), {.priority = prio}});
  EXPECT_EQ(position_counts(c, PolicyType::priority, 300), (std::vector<int>{100, 0, 100, 100}));
}

// --- Least used (RFC 5356 §5.1) ---

TEST(LeastUsed, LowestLoadFirstEqualsTakeTurns) {
  const auto c = with_loads({30, 10, 20, 10, kFullLoad, 0});
  SelectionState state;
  std::mt19937_64 rng(1);
  EXPECT_EQ(select(c, PolicyType::least_used, state, rng), (std::vector<size_t>{5, 1, 3, 2, 0, 4}));
  EXPECT_EQ(select(c, PolicyType::least_used, state, rng), (std::vector<size_t>{5, 3, 1, 2, 0, 4}));
}

TEST(LeastUsed, EqualLowestLoadsShareTheLeadEqually) {
  const auto c = with_loads({10, 50, 10, 10, 10});
  EXPECT_EQ(position_counts(c, PolicyType::least_used, 400),
            (std::vector<int>{100, 0, 100, 100, 100}));
}

// --- Least used with degradation (RFC 5356 §5.2) ---

TEST(LeastUsedDegradation, SelectionsSinceTheUpdateRaiseTheLoad) {
  SelectionState state;
  std::mt19937_64 rng(1);
  // Effective loads 100, 150, 120.
  auto c = with_loads({100, 150, 120}, {40, 0, 5}, {0, 0, 0});
  EXPECT_EQ(select(c, PolicyType::least_used_degradation, state, rng),
            (std::vector<size_t>{0, 2, 1}));
  // 100 + 2 x 40 = 180, 150, 120 + 2 x 5 = 130.
  c = with_loads({100, 150, 120}, {40, 0, 5}, {2, 0, 2});
  EXPECT_EQ(select(c, PolicyType::least_used_degradation, state, rng),
            (std::vector<size_t>{2, 1, 0}));
  // Degradation without selections changes nothing: least used.
  c = with_loads({100, 150, 120}, {kFullLoad, kFullLoad, kFullLoad}, {0, 0, 0});
  EXPECT_EQ(select(c, PolicyType::least_used_degradation, state, rng),
            (std::vector<size_t>{0, 2, 1}));
}

TEST(LeastUsedDegradation, SumsDoNotWrap) {
  // Full load, 2^32 - 1 selections of full degradation: 2^64 - 2^32, above a plain full load.
  const auto c = with_loads({kFullLoad, kFullLoad}, {kFullLoad, 0}, {0xffffffff, 0});
  SelectionState state;
  std::mt19937_64 rng(1);
  EXPECT_EQ(select(c, PolicyType::least_used_degradation, state, rng), (std::vector<size_t>{1, 0}));
}

TEST(LeastUsedDegradation, EqualEffectiveLoadsTakeTurns) {
  // 10 + 2 x 5 = 20, 20, 0 + 4 x 5 = 20.
  const auto c = with_loads({10, 20, 0}, {5, 0, 5}, {2, 7, 4});
  EXPECT_EQ(position_counts(c, PolicyType::least_used_degradation, 300),
            (std::vector<int>{100, 100, 100}));
}

// --- Priority least used (RFC 5356 §5.3) ---

TEST(PriorityLeastUsed, LowestLoadPlusIncrementFirst) {
  // 110, 120, 100, 120: the increment counts once, whatever the selections.
  const auto c = with_loads({100, 50, 100, 60}, {10, 70, 0, 60}, {9, 0, 9, 0});
  SelectionState state;
  std::mt19937_64 rng(1);
  EXPECT_EQ(select(c, PolicyType::priority_least_used, state, rng),
            (std::vector<size_t>{2, 0, 1, 3}));
  EXPECT_EQ(select(c, PolicyType::priority_least_used, state, rng),
            (std::vector<size_t>{2, 0, 3, 1}));
}

TEST(PriorityLeastUsed, SumsDoNotWrap) {
  const auto c = with_loads({kFullLoad, kFullLoad - 1}, {kFullLoad, 0});
  SelectionState state;
  std::mt19937_64 rng(1);
  EXPECT_EQ(select(c, PolicyType::priority_least_used, state, rng), (std::vector<size_t>{1, 0}));
}

// --- Randomized least used (RFC 5356 §5.4) ---

TEST(RandomizedLeastUsed, ProbabilityFollowsTheUnusedCapacity) {
  // Unused capacity 100 %, 50 %, 25 %, 0 %: the fully loaded one never leads.
  const auto c = with_loads({0, kFullLoad / 2, kFullLoad / 4 * 3, kFullLoad});
  EXPECT_LT(chi_square(position_counts(c, PolicyType::randomized_least_used, 10000),
                       normalized({4, 2, 1, 0})),
            kChi2);
}

TEST(RandomizedLeastUsed, FullyLoadedComeLast) {
  const auto c = with_loads({kFullLoad, 100, kFullLoad});
  SelectionState state;
  std::mt19937_64 rng(3);
  std::vector<int> second(3);
  for (int draw = 0; draw < 2000; ++draw) {
    const auto order = select(c, PolicyType::randomized_least_used, state, rng);
    ASSERT_EQ(order[0], 1u);
    ++second[order[1]];
  }
  EXPECT_LT(chi_square(second, {0.5, 0, 0.5}), 10.83);  // 1 degree of freedom
}

TEST(RandomizedLeastUsed, EqualLoadsAreUniform) {
  const auto c = with_loads({7, 7, 7, 7, 7});
  EXPECT_LT(chi_square(position_counts(c, PolicyType::randomized_least_used, 10000),
                       std::vector<double>(5, 0.2)),
            kChi4);
}

}  // namespace
}  // namespace poolflow::rserpool
