// Micro-benchmarks (Google Benchmark): packet parsing, and flow-table
// lookup-or-insert plus counter update at 1k..10M flows for poolflow's table
// and for DPDK's rte_hash in lock-free mode (the baseline it is judged against).
//   flow_table_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_lcore.h>

#include <cstring>
#include <map>
#include <memory>

#include "bench_util.h"
#include "meter/flow_table.h"
#include "meter/huge_array.h"
#include "meter/packet_parser.h"

using namespace poolflow;
using namespace poolflow::meter;

namespace {

constexpr size_t kSequenceLength = 1 << 22;
constexpr uint32_t kBurst = 32;

// ---- parsing ----

// push_back rather than insert: GCC 12 warns falsely (-Warray-bounds) on the latter.
void append(std::vector<uint8_t>& f, std::initializer_list<uint8_t> bytes) {
  for (uint8_t b : bytes) f.push_back(b);
}

std::vector<uint8_t> tcp_ipv4_frame(bool vlan) {
  std::vector<uint8_t> f(12, 0xaa);
  if (vlan) append(f, {0x81, 0x00, 0x00, 0x64});
  append(f, {0x08, 0x00, 0x45, 0, 0,   40,  0,    1,    0,    0,    64, 6,  0, 0,
             10,   0,    0,    1, 192, 168, 1,    2,    0x04, 0xd2, 0,  80, 0, 0,
             0,    0,    0,    0, 0,   0,   0x50, 0x10, 0xff, 0xff, 0,  0,  0, 0});
  while (f.size() < 60) f.push_back(0);
  return f;
}

std::vector<uint8_t> udp_ipv6_frame() {
  std::vector<uint8_t> f(12, 0xaa);
  append(f, {0x86, 0xdd, 0x60, 0, 0, 0, 0, 8, 17, 64});
  for (int i = 0; i < 32; ++i) f.push_back(static_cast<uint8_t>(i));
  append(f, {0x13, 0x88, 0x00, 0x35, 0, 8, 0, 0});
  return f;
}

void parse_frame(benchmark::State& state, const std::vector<uint8_t>& frame) {
  const auto size = static_cast<uint32_t>(frame.size());
  for (auto _ : state) {
    ParsedPacket p;
    IgnoreReason why;
    benchmark::DoNotOptimize(parse_packet(frame.data(), size, size, p, why));
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(state.iterations());
}
void BM_ParseIPv4Tcp(benchmark::State& s) { parse_frame(s, tcp_ipv4_frame(false)); }
void BM_ParseVlanIPv4Tcp(benchmark::State& s) { parse_frame(s, tcp_ipv4_frame(true)); }
void BM_ParseIPv6Udp(benchmark::State& s) { parse_frame(s, udp_ipv6_frame()); }
BENCHMARK(BM_ParseIPv4Tcp);
BENCHMARK(BM_ParseVlanIPv4Tcp);
BENCHMARK(BM_ParseIPv6Udp);

// ---- flow tables ----

struct Workload {
  std::vector<ParsedPacket> packets;  // one per flow
  std::vector<uint32_t> sequence;     // flow index of each operation
};

const Workload& workload(uint32_t flows, bool zipf) {
  static std::map<std::pair<uint32_t, bool>, std::unique_ptr<Workload>> cache;
  auto& w = cache[{flows, zipf}];
  if (!w) {
    w = std::make_unique<Workload>();
    w->packets.resize(flows);
    for (uint32_t i = 0; i < flows; ++i) {
      w->packets[i].key = bench::flow_key(i);
      w->packets[i].ip_octets = 64;
    }
    w->sequence = bench::popularity(flows, kSequenceLength, zipf ? 1.0 : 0.0);
  }
  return *w;
}

// The flow indices of the next burst of the workload's sequence, from `at`.
const uint32_t* next_burst(const Workload& w, size_t& at) {
  const uint32_t* burst = &w.sequence[at];
  at = (at + kBurst) % kSequenceLength;
  return burst;
}

struct NoSink {
  void operator()(const FlowRecord&) const {}
};

// poolflow's table, sized 10 % over the flow count, every flow present.
void BM_PoolflowTable(benchmark::State& state) {
  const auto flows = static_cast<uint32_t>(state.range(0));
  const Workload& w = workload(flows, state.range(1) != 0);
  static std::map<uint32_t, std::unique_ptr<FlowTable>> tables;
  auto& table = tables[flows];
  const FlowTimeouts timeouts{.idle_ms = 1u << 30, .active_ms = 8000'000, .tcp_end_grace_ms = 0};
  if (!table) {
    table = std::make_unique<FlowTable>(flows + flows / 10);
    for (const ParsedPacket& p : w.packets) table->account(p, 1, timeouts, NoSink{});
  }
  size_t at = 0;
  FlowTable::Probe probes[kBurst];
  const FlowTable::Now now(2, timeouts);  // as the worker does: once per flow time
  for (auto _ : state) {
    const uint32_t* seq = next_burst(w, at);
    for (uint32_t i = 0; i < kBurst; ++i) {
      probes[i] = table->probe(FlowTable::hash(w.packets[seq[i]].key));
      table->prefetch_bucket(probes[i]);
    }
    for (uint32_t i = 0; i < kBurst; ++i) table->locate(probes[i]);
    for (uint32_t i = 0; i < kBurst; ++i)
      table->account(w.packets[seq[i]], probes[i], now, NoSink{});
  }
  state.SetItemsProcessed(state.iterations() * kBurst);
  state.counters["flows"] = table->size();
  state.counters["bytes_per_flow"] = static_cast<double>(table->bytes_per_flow());
}

// rte_hash in lock-free read/write mode with bulk lookups, counters beside it.
void BM_RteHash(benchmark::State& state) {
  const auto flows = static_cast<uint32_t>(state.range(0));
  const Workload& w = workload(flows, state.range(1) != 0);
  struct Counters {
    uint64_t packets, octets, first_ms, last_ms;
  };
  static std::map<uint32_t, std::pair<rte_hash*, std::vector<Counters>>> tables;
  auto& [hash, counters] = tables[flows];
  if (hash == nullptr) {
    const std::string name = "bench" + std::to_string(flows);
    rte_hash_parameters params{};
    params.name = name.c_str();
    params.entries = flows + flows / 10;
    params.key_len = sizeof(FlowKey);
    params.hash_func = rte_hash_crc;
    params.socket_id = 0;
    params.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF;
    hash = rte_hash_create(&params);
    if (hash == nullptr) {
      state.SkipWithError("rte_hash_create failed (EAL memory)");
      return;
    }
    counters.resize(params.entries);
    for (const ParsedPacket& p : w.packets) rte_hash_add_key(hash, &p.key);
  }
  size_t at = 0;
  const void* keys[kBurst];
  int32_t positions[kBurst];
  for (auto _ : state) {
    const uint32_t* seq = next_burst(w, at);
    for (uint32_t i = 0; i < kBurst; ++i) keys[i] = &w.packets[seq[i]].key;
    rte_hash_lookup_bulk(hash, keys, kBurst, positions);
    for (uint32_t i = 0; i < kBurst; ++i) {
      int32_t pos = positions[i];
      if (pos < 0) pos = rte_hash_add_key(hash, keys[i]);
      Counters& c = counters[pos];
      c.packets += 1;
      c.octets += w.packets[seq[i]].ip_octets;
      c.last_ms = 2;
    }
  }
  state.SetItemsProcessed(state.iterations() * kBurst);
}

// The cost of per-flow entries smaller than a cache line (issue 3 asks for at
// most 64 bytes a flow in the table; with 8 bytes of bucket index per slot that
// means 56-byte entries, as FlowEntry is, most of which straddle two lines).
// Random entries are read and updated in bursts as account() does, after a
// prefetch of every line each entry touches: stride 64 (one line) against 56.
void BM_EntryStride(benchmark::State& state) {
  const auto flows = static_cast<uint32_t>(state.range(0));
  const auto stride = static_cast<size_t>(state.range(1));
  const Workload& w = workload(flows, false);
  HugeArray<uint64_t> memory((size_t{flows} * stride + 64) / sizeof(uint64_t));
  auto* base = reinterpret_cast<uint8_t*>(&memory[0]);
  auto entry = [&](uint32_t i) { return base + size_t{i} * stride; };
  for (uint32_t i = 0; i < flows; ++i) std::memcpy(entry(i), &w.packets[i].key, sizeof(FlowKey));
  size_t at = 0;
  uint64_t mismatches = 0;
  for (auto _ : state) {
    const uint32_t* seq = next_burst(w, at);
    for (uint32_t i = 0; i < kBurst; ++i) {
      rte_prefetch0(entry(seq[i]));
      rte_prefetch0(entry(seq[i]) + stride - 1);  // the same line unless it straddles
    }
    for (uint32_t i = 0; i < kBurst; ++i) {
      uint8_t* e = entry(seq[i]);
      mismatches += std::memcmp(e, &w.packets[seq[i]].key, sizeof(FlowKey)) != 0;
      uint64_t counters;  // packets and octets after the key, as in FlowEntry
      std::memcpy(&counters, e + 48, sizeof(counters));
      counters += 64 << 8 | 1;
      std::memcpy(e + 48, &counters, sizeof(counters));
    }
  }
  benchmark::DoNotOptimize(mismatches);
  state.SetItemsProcessed(state.iterations() * kBurst);
}
BENCHMARK(BM_EntryStride)
    ->ArgsProduct({{1'000'000, 10'000'000}, {64, 56}})
    ->ArgNames({"flows", "stride"})
    ->MinTime(0.5);

// A layout with no index at all, another way to 64 bytes a flow: buckets of 4
// whole 64-byte entries (4 adjacent lines), two candidate buckets per key, keys
// compared in place. A lookup prefetches the primary bucket's 4 lines, then
// compares up to 4 keys (and the secondary bucket's, when the flow is there).
// Filled to 90 % of its slots. Compare with BM_PoolflowTable at the same flow
// counts (a bucket line, then the matching entry: 2 dependent lines).
void BM_BucketsOfEntries(benchmark::State& state) {
  constexpr uint32_t kWays = 4;
  struct alignas(64) WholeEntry {
    FlowKey key;
    uint32_t packets;
    uint64_t octets;
  };
  const auto flows = static_cast<uint32_t>(state.range(0));
  const Workload& w = workload(flows, state.range(1) != 0);
  const uint32_t buckets = static_cast<uint32_t>(uint64_t{flows} * 10 / 9 / kWays + 1);
  HugeArray<WholeEntry> entries(size_t{buckets} * kWays);
  auto bucket_of = [&](uint32_t hash, int which) {
    const uint32_t h = which == 0 ? hash : rte_hash_crc_4byte(hash, 0x85ebca6b);
    return static_cast<uint32_t>((uint64_t{h} * buckets) >> 32);
  };
  std::vector<uint32_t> hashes(flows);
  uint32_t placed = 0, left_out = 0;
  for (uint32_t i = 0; i < flows; ++i) {
    hashes[i] = FlowTable::hash(w.packets[i].key);
    for (int which = 0; which < 2 && placed == i; ++which)
      for (uint32_t s = 0; s < kWays; ++s) {
        WholeEntry& e = entries[size_t{bucket_of(hashes[i], which)} * kWays + s];
        if (e.packets != 0) continue;
        e.key = w.packets[i].key;
        e.packets = 1;
        ++placed;
        break;
      }
    if (placed == i) {  // both buckets full: this flow is left out (would be evicted)
      ++placed;
      ++left_out;
    }
  }
  size_t at = 0;
  uint64_t missing = 0;
  for (auto _ : state) {
    const uint32_t* seq = next_burst(w, at);
    for (uint32_t i = 0; i < kBurst; ++i) {
      const WholeEntry* first = &entries[size_t{bucket_of(hashes[seq[i]], 0)} * kWays];
      for (uint32_t s = 0; s < kWays; ++s) rte_prefetch0(first + s);
    }
    for (uint32_t i = 0; i < kBurst; ++i) {
      const FlowKey& key = w.packets[seq[i]].key;
      WholeEntry* found = nullptr;
      for (int which = 0; which < 2 && found == nullptr; ++which)
        for (uint32_t s = 0; s < kWays && found == nullptr; ++s) {
          WholeEntry& e = entries[size_t{bucket_of(hashes[seq[i]], which)} * kWays + s];
          if (e.key == key) found = &e;
        }
      if (found == nullptr) {
        ++missing;
        continue;
      }
      found->packets += 1;
      found->octets += w.packets[seq[i]].ip_octets;
    }
  }
  benchmark::DoNotOptimize(missing);
  state.SetItemsProcessed(state.iterations() * kBurst);
  state.counters["bytes_per_flow"] = sizeof(WholeEntry);
  state.counters["left_out"] = left_out;
}

void table_sizes(benchmark::internal::Benchmark* b) {
  for (int64_t flows : {1'000, 100'000, 1'000'000, 10'000'000})
    for (int64_t zipf : {0, 1}) b->Args({flows, zipf});
  b->ArgNames({"flows", "zipf"})->MinTime(0.5);
}
BENCHMARK(BM_PoolflowTable)->Apply(table_sizes);
BENCHMARK(BM_RteHash)->Apply(table_sizes);
BENCHMARK(BM_BucketsOfEntries)->Apply(table_sizes);

}  // namespace

int main(int argc, char** argv) {
  bench::start_eal("1", 3072);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
