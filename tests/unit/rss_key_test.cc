// The RSS key sends both directions of a connection to the same queue.
#include <gtest/gtest.h>
#include <rte_thash.h>

#include <random>

#include "net/ports.h"

namespace poolflow::net {
namespace {

uint32_t toeplitz(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport) {
  uint32_t tuple[3] = {src, dst, static_cast<uint32_t>(sport) << 16 | dport};
  return rte_softrss(tuple, 3, kSymmetricRssKey.data());
}

TEST(SymmetricRssKey, BothDirectionsHashAlike) {
  std::mt19937 rng(5);
  for (int i = 0; i < 10000; ++i) {
    const uint32_t a = rng(), b = rng();
    const auto p = static_cast<uint16_t>(rng()), q = static_cast<uint16_t>(rng());
    ASSERT_EQ(toeplitz(a, b, p, q), toeplitz(b, a, q, p));
  }
}

TEST(SymmetricRssKey, StillSpreadsConnections) {
  std::mt19937 rng(6);
  int queue_hits[4] = {};
  for (int i = 0; i < 40000; ++i) ++queue_hits[toeplitz(rng(), rng(), 1234, 80) % 4];
  for (int hits : queue_hits) EXPECT_GT(hits, 8000) << "queues get a fair share";
}

}  // namespace
}  // namespace poolflow::net
