// Whole-worker harness: one metering worker fed pre-built 64-byte mbufs (no
// I/O cost), doing everything it does on a port: parse, hash, lookup or
// insert, counter update, expiry slices, ended flows to its ring (drained by
// the other core). Like a NIC's RX ring, a small set of mbufs is reused: before
// each burst the harness writes the next flows' addresses and ports into them
// (the NIC's DMA write; its cost is counted against the worker). The flows are
// created by a first pass over the flow sequence, reported on its own, so that
// the measurement sees them all active. Prints packets/s, cycles per packet and
// table bytes per flow, next to a parse-only pass over the same mbufs in the
// same process, and the harness's own cost.
//   worker_bench [--flows N] [--zipf S] [--sequence P] [--seconds T]
#include <rte_cycles.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <atomic>
#include <cstring>

#include "bench_util.h"
#include "meter/worker.h"

using namespace poolflow;

namespace {

struct Options {
  uint32_t flows = 1'000'000;
  double zipf = 0;
  uint32_t sequence = 1u << 23;  // flow draws, played back in a loop
  uint32_t mbufs = 1024;         // the "RX ring"
  double seconds = 3;
};

// A 60-byte IPv4/UDP frame (64 bytes on the wire with the FCS).
void build_frame(rte_mbuf* m) {
  uint8_t* f = rte_pktmbuf_mtod(m, uint8_t*);
  std::memset(f, 0, 60);
  f[12] = 0x08;
  f[14] = 0x45;
  f[17] = 46;  // total length
  f[22] = 64;
  f[23] = 17;
  f[39] = 26;
  m->data_len = m->pkt_len = 60;
}

// The "NIC's DMA" of the next packet: flow `i`'s addresses and ports, as
// bench::flow_key() has them (10.a.b.c:port to 192.168.d.1:443, where i is
// d.a.b.c), in two stores, so that it costs the worker's figures little.
inline void write_flow(rte_mbuf* m, uint32_t i) {
  const uint64_t addresses =
      (__builtin_bswap32(i) & 0xffffff00u) | 10u | uint64_t{0x0100a8c0u | (i >> 24) << 16} << 32;
  const auto src_port = static_cast<uint16_t>(1024 + (i & 0x3fff));
  const uint32_t ports = __builtin_bswap16(src_port) | uint32_t{0xbb01} << 16;
  uint8_t* f = rte_pktmbuf_mtod(m, uint8_t*);
  std::memcpy(f + 26, &addresses, sizeof(addresses));
  std::memcpy(f + 34, &ports, sizeof(ports));
}

struct Drain {
  rte_ring* ring;
  std::atomic<bool>* stop;
  uint64_t records = 0;
};

int drain_ring(void* arg) {
  auto* d = static_cast<Drain*>(arg);
  FlowRecord records[64];
  while (!d->stop->load(std::memory_order_relaxed))
    d->records += rte_ring_sc_dequeue_burst_elem(d->ring, records, sizeof(FlowRecord), 64, nullptr);
  return 0;
}

struct Result {
  double mpps;
  double cycles_per_packet;
};

// "Receives" bursts of 32 into the mbufs (next flows of `sequence`, from its
// start) and runs `step` on each, for about `seconds` or until `max_packets`.
template <class Step>
Result timed(const std::vector<rte_mbuf*>& mbufs, const std::vector<uint32_t>& sequence,
             double seconds, Step&& step, uint64_t max_packets = UINT64_MAX) {
  const uint64_t hz = rte_get_tsc_hz();
  const uint64_t start = rte_rdtsc();
  const uint64_t end = start + static_cast<uint64_t>(seconds * static_cast<double>(hz));
  uint64_t packets = 0;
  size_t at = 0;
  size_t next = 0;
  uint64_t now = start;
  while (now < end && packets < max_packets) {
    for (int i = 0; i < 64; ++i) {
      for (unsigned j = 0; j < meter::kBurstSize; ++j) {
        write_flow(mbufs[at + j], sequence[next]);
        next = next + 1 == sequence.size() ? 0 : next + 1;
      }
      step(&mbufs[at], now);
      at = at + 2 * meter::kBurstSize > mbufs.size() ? 0 : at + meter::kBurstSize;
      packets += meter::kBurstSize;
    }
    now = rte_rdtsc();
  }
  const double cycles = static_cast<double>(now - start);
  return {static_cast<double>(packets) / (cycles / static_cast<double>(hz)) / 1e6,
          cycles / static_cast<double>(packets)};
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"worker_bench: one metering worker on pre-built 64-byte mbufs"};
  app.add_option("--flows", o.flows, "distinct flows");
  app.add_option("--zipf", o.zipf, "Zipf exponent of flow popularity; 0 = uniform");
  app.add_option("--sequence", o.sequence, "flow draws repeated in a loop");
  app.add_option("--mbufs", o.mbufs, "mbufs reused like an RX ring (multiple of 32)");
  app.add_option("--seconds", o.seconds, "duration of each measurement");
  CLI11_PARSE(app, argc, argv);

  bench::start_eal("0,1", 2048);
  rte_mempool* pool =
      rte_pktmbuf_pool_create("bench_mbufs", o.mbufs, 0, 0, RTE_PKTMBUF_HEADROOM + 64, 0);
  if (pool == nullptr || o.mbufs < 2 * meter::kBurstSize) {
    fmt::print(stderr, "worker_bench: cannot have {} mbufs\n", o.mbufs);
    return 1;
  }
  const std::vector<uint32_t> sequence = bench::popularity(o.flows, o.sequence, o.zipf);
  std::vector<rte_mbuf*> mbufs(o.mbufs);
  for (auto& m : mbufs) {
    m = rte_pktmbuf_alloc(pool);
    build_frame(m);
  }

  rte_ring* ring = rte_ring_create_elem("bench_records", sizeof(FlowRecord), 65536, 0,
                                        RING_F_SP_ENQ | RING_F_SC_DEQ);
  std::atomic<bool> stop{false};
  meter::WorkerConfig config;
  config.flow_capacity = o.flows + o.flows / 10;
  meter::Worker worker(config, ring, stop);
  worker.commit_table();
  Drain drain{ring, &stop};
  rte_eal_remote_launch(drain_ring, &drain, rte_get_next_lcore(rte_lcore_id(), 1, 0));

  // Baseline: parse only, the same mbufs, the same loop.
  auto parse_step = [](rte_mbuf* const* burst, uint64_t) {
    for (unsigned i = 0; i < meter::kBurstSize; ++i) {
      meter::ParsedPacket p;
      meter::IgnoreReason why;
      const rte_mbuf* m = burst[i];
      meter::parse_packet(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len, m->pkt_len, p, why);
      asm volatile("" : : "r"(&p) : "memory");
    }
  };
  timed(mbufs, sequence, o.seconds / 3, parse_step);  // warm-up
  const Result parse_only = timed(mbufs, sequence, o.seconds, parse_step);
  // The harness alone: its writes into the mbufs stand for the NIC's DMA (and,
  // like it, bring each packet's line in). Counted in both figures above.
  const Result harness_only =
      timed(mbufs, sequence, o.seconds / 3, [](rte_mbuf* const* burst, uint64_t) {
        asm volatile("" : : "r"(burst) : "memory");
      });
  const uint64_t hz_per_ms = rte_get_tsc_hz() / 1000;
  const uint64_t epoch_ms = 1'700'000'000'000;
  auto worker_step = [&](rte_mbuf* const* burst, uint64_t tsc) {
    worker.advance_clock(epoch_ms + tsc / hz_per_ms);
    worker.meter_burst(0, burst, meter::kBurstSize);
    worker.expire_step();
  };
  // A first pass over the whole sequence creates the flows, so that the
  // measurement sees them all active ("1M active flows"); reported on its own.
  const Result fill = timed(mbufs, sequence, 3600, worker_step, sequence.size());
  const uint64_t created_by_fill = worker.stats().flows_created.get();
  const Result full = timed(mbufs, sequence, o.seconds, worker_step);
  stop.store(true);
  rte_eal_mp_wait_lcore();

  fmt::print(
      "worker_bench: {} flows ({}), 64-byte packets: {:.2f} Mpps, {:.1f} cycles/packet "
      "per worker core; parse-only baseline {:.2f} Mpps ({:.1f} cycles/packet), ratio {:.2f}; "
      "table {} bytes/flow, {} flows active, {} ring drops; the harness's mbuf writes alone "
      "{:.1f} cycles/packet; before it, the first pass over the sequence created {} flows at "
      "{:.2f} Mpps\n",
      o.flows, o.zipf > 0 ? fmt::format("Zipf s={}", o.zipf) : "uniform", full.mpps,
      full.cycles_per_packet, parse_only.mpps, parse_only.cycles_per_packet,
      full.mpps / parse_only.mpps, worker.table().bytes_per_flow(), worker.table().size(),
      worker.stats().ring_drops.get(), harness_only.cycles_per_packet, created_by_fill, fill.mpps);
  return 0;
}
