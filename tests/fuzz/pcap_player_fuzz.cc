// libFuzzer target for the capture playback (--pcap): any bytes as a capture file,
// read through the real EAL and an mbuf pool. The reader must never read outside
// the file (AddressSanitizer), must come to an end, must deliver no packet longer
// than libpcap's largest record, and every mbuf must come back to the pool.
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "net/pcap_player.h"

namespace {
constexpr unsigned kPoolSize = 511;

rte_mempool* pool() {
  static rte_mempool* p = [] {
    std::vector<std::string> args = {"fuzz",        "-l", "0",   "--no-huge",        "--no-pci",
                                     "--no-shconf", "-m", "128", "--log-level=error"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) std::abort();
    return rte_pktmbuf_pool_create("fuzz", kPoolSize, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  }();
  return p;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rte_mempool* mbufs = pool();
  static const std::string path = "/tmp/pcap_player_fuzz." + std::to_string(getpid());
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) std::abort();
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    poolflow::net::PcapPlayer player(path);
    player.start(mbufs, 0);
    rte_mbuf* burst[32];
    uint64_t delivered = 0;
    for (int polls = 0; !player.finished(); ++polls) {
      if (polls > 100'000) std::abort();  // a playback must end
      const uint16_t n = player.rx_burst(burst, 32);
      for (uint16_t i = 0; i < n; ++i)
        if (rte_pktmbuf_pkt_len(burst[i]) > 262'144) std::abort();
      rte_pktmbuf_free_bulk(burst, n);
      delivered += n;
    }
    if (delivered != player.delivered()) std::abort();
  } catch (const std::runtime_error&) {
    // refused: not a capture libpcap reads, or not Ethernet
  }
  std::remove(path.c_str());
  if (rte_mempool_avail_count(mbufs) != kPoolSize) std::abort();  // every mbuf back
  return 0;
}
