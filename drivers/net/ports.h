// DPDK port bring-up for every probed port (PCI NIC or vdev): one mbuf pool,
// one RX queue per worker where the device has them, RSS across the queues.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

struct rte_mempool;

namespace poolflow::net {

/// Toeplitz RSS key of `length` bytes whose hash is the same for both directions
/// of a connection (the 16-bit pattern 0x6d5a repeats, so swapping addresses and
/// ports changes nothing): both directions of a flow reach the same worker.
/// Devices differ in key length (40 bytes for most, 52 for i40e and ice).
std::vector<uint8_t> symmetric_rss_key(size_t length);

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

/// The pool the ports (or a pcap playback) take their mbufs from. Throws
/// std::runtime_error.
rte_mempool* create_mbuf_pool(const PortSettings& settings);

/// Configures and starts every available port, with mbufs from `pool`. Throws std::runtime_error.
std::vector<Port> start_ports(const PortSettings& settings, rte_mempool* pool);

/// Stops and closes the ports.
void stop_ports(const std::vector<Port>& ports);

}  // namespace poolflow::net
