// Shared by the benchmarks: EAL start-up without hugepages or devices, distinct
// flow keys, and flow popularity sequences (uniform or Zipf).
#pragma once

#include <rte_eal.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "poolflow/flow_record.h"

namespace poolflow::bench {

/// Starts DPDK's EAL on CPUs `lcores` ("1" or "0,1") with `memory_mb` of memory.
inline void start_eal(const std::string& lcores, unsigned memory_mb) {
  std::vector<std::string> args = {"bench",
                                   "-l",
                                   lcores,
                                   "--no-huge",
                                   "--no-pci",
                                   "--no-shconf",
                                   "-m",
                                   std::to_string(memory_mb),
                                   "--log-level=error"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0)
    throw std::runtime_error("rte_eal_init failed");
}

/// Flow `i`: an IPv4 TCP 5-tuple distinct from every other index.
inline FlowKey flow_key(uint32_t i) {
  FlowKey k;
  k.ip_version = 4;
  k.protocol = 6;
  k.src_addr = {10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8),
                static_cast<uint8_t>(i)};
  k.dst_addr = {192, 168, static_cast<uint8_t>(i >> 24), 1};
  k.src_port = static_cast<uint16_t>(1024 + (i & 0x3fff));
  k.dst_port = 443;
  return k;
}

/// `count` flow indices in [0, flows): uniform, or Zipf with exponent `s`.
inline std::vector<uint32_t> popularity(uint32_t flows, size_t count, double zipf_s,
                                        uint64_t seed = 42) {
  std::mt19937_64 rng(seed);
  std::vector<uint32_t> seq(count);
  if (zipf_s <= 0) {
    std::uniform_int_distribution<uint32_t> uniform(0, flows - 1);
    for (auto& v : seq) v = uniform(rng);
    return seq;
  }
  std::vector<double> cdf(flows);
  double sum = 0;
  for (uint32_t i = 0; i < flows; ++i) cdf[i] = sum += 1.0 / std::pow(i + 1.0, zipf_s);
  std::uniform_real_distribution<double> unit(0, sum);
  // Rank 0 is the most popular; scatter ranks over the key space.
  for (auto& v : seq) {
    const auto rank =
        static_cast<uint32_t>(std::lower_bound(cdf.begin(), cdf.end(), unit(rng)) - cdf.begin());
    v = static_cast<uint32_t>((uint64_t{rank} * 2654435761u) % flows);
  }
  return seq;
}

}  // namespace poolflow::bench
