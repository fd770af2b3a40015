// DPDK port bring-up for every probed port (PCI NIC or vdev): one mbuf pool,
// one RX queue per worker where the device has them, RSS across the queues.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

struct rte_mempool;

namespace poolflow::net {

/// Toeplitz RSS key whose hash is the same for both directions of a connection
/// (the 16-bit pattern repeats, so swapping addresses and ports changes nothing):
/// both directions of a flow reach the same worker.
inline constexpr std::array<uint8_t, 40> kSymmetricRssKey = {
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a};

struct PortSettings {
  uint16_t rx_queues = 1;  ///< wanted per port: one per worker
  uint16_t rx_descriptors = 1024;
  uint32_t mbuf_pool_size = 16383;
  uint32_t mbuf_cache_size = 256;
  bool promiscuous = true;
};

struct Port {
  uint16_t id = 0;
  std::string name;
  uint16_t rx_queues = 0;  ///< configured; may be fewer than wanted
  bool rss = false;        ///< queues balanced by symmetric RSS
};

/// Configures and starts every available port. Throws std::runtime_error.
std::vector<Port> start_ports(const PortSettings& settings);

/// Stops and closes the ports.
void stop_ports(const std::vector<Port>& ports);

/// Number of packets in a pcap file. Throws std::runtime_error for a file libpcap
/// cannot read.
uint64_t count_pcap_packets(const std::string& path);

}  // namespace poolflow::net
