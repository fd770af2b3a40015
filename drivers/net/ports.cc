#include "net/ports.h"

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

namespace poolflow::net {

namespace {

[[noreturn]] void fail(const std::string& what, int rc) {
  throw std::runtime_error(what + ": " + rte_strerror(-rc));
}

}  // namespace

rte_mempool* create_mbuf_pool(const PortSettings& settings) {
  rte_mempool* pool =
      rte_pktmbuf_pool_create("poolflow_mbufs", settings.mbuf_pool_size, settings.mbuf_cache_size,
                              0, RTE_MBUF_DEFAULT_BUF_SIZE, static_cast<int>(rte_socket_id()));
  if (pool == nullptr)
    throw std::runtime_error("cannot create a pool of " + std::to_string(settings.mbuf_pool_size) +
                             " mbufs: " + rte_strerror(rte_errno) + " (raise eal.memory_mb)");
  return pool;
}

namespace {

Port start_port(uint16_t port_id, const PortSettings& settings, rte_mempool* pool) {
  Port port;
  port.id = port_id;
  char name[RTE_ETH_NAME_MAX_LEN] = {};
  rte_eth_dev_get_name_by_port(port_id, name);
  port.name = name;

  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(port_id, &info); rc != 0) fail(port.name + ": device info", rc);

  rte_eth_conf conf{};
  std::vector<uint8_t> key;  // read by rte_eth_dev_configure
  port.rx_queues = std::min<uint16_t>(settings.rx_queues, info.max_rx_queues);
  const uint64_t hash_types = info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP |
                                                             RTE_ETH_RSS_UDP | RTE_ETH_RSS_SCTP);
  if (hash_types == 0) {
    port.rx_queues = 1;  // without RSS one queue, one worker: a flow never splits
  } else if (port.rx_queues > 1) {
    key = symmetric_rss_key(info.hash_key_size != 0 ? info.hash_key_size : 40);
    port.rss = true;
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_key = key.data();
    conf.rx_adv_conf.rss_conf.rss_key_len = static_cast<uint8_t>(key.size());
    conf.rx_adv_conf.rss_conf.rss_hf = hash_types;
  }
  // One TX queue although nothing is sent: some PMDs (memif) only connect with one.
  if (int rc = rte_eth_dev_configure(port_id, port.rx_queues, 1, &conf); rc != 0)
    fail(port.name + ": configure", rc);

  uint16_t descriptors = settings.rx_descriptors;
  uint16_t tx_descriptors = 64;
  if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &descriptors, &tx_descriptors); rc != 0)
    fail(port.name + ": descriptors", rc);
  for (uint16_t q = 0; q < port.rx_queues; ++q) {
    const int rc = rte_eth_rx_queue_setup(port_id, q, descriptors, rte_eth_dev_socket_id(port_id),
                                          nullptr, pool);
    if (rc != 0) fail(port.name + ": rx queue " + std::to_string(q), rc);
  }
  if (int rc = rte_eth_tx_queue_setup(port_id, 0, tx_descriptors, rte_eth_dev_socket_id(port_id),
                                      nullptr);
      rc != 0)
    fail(port.name + ": tx queue", rc);
  if (int rc = rte_eth_dev_start(port_id); rc != 0) fail(port.name + ": start", rc);
  if (settings.promiscuous && rte_eth_promiscuous_enable(port_id) != 0)
    spdlog::warn("port {} ({}): promiscuous mode not supported", port_id, port.name);

  spdlog::info("port {} ({}): {} rx queue(s) of {} descriptors{}", port_id, port.name,
               port.rx_queues, descriptors,
               port.rss                              ? ", symmetric RSS"
               : hash_types == 0                     ? "; no RSS: one worker polls it"
               : port.rx_queues < settings.rx_queues ? ", fewer queues than workers"
                                                     : "");
  return port;
}

}  // namespace

std::vector<uint8_t> symmetric_rss_key(size_t length) {
  std::vector<uint8_t> key(length);
  for (size_t i = 0; i < length; ++i) key[i] = i % 2 == 0 ? 0x6d : 0x5a;
  return key;
}

std::vector<Port> start_ports(const PortSettings& settings, rte_mempool* pool) {
  if (rte_eth_dev_count_avail() == 0)
    throw std::runtime_error("no DPDK port found (check input.devices and the NIC binding)");
  std::vector<Port> ports;
  uint16_t port_id;
  RTE_ETH_FOREACH_DEV(port_id) { ports.push_back(start_port(port_id, settings, pool)); }
  return ports;
}

void stop_ports(const std::vector<Port>& ports) {
  for (const Port& port : ports) {
    rte_eth_dev_stop(port.id);
    rte_eth_dev_close(port.id);
  }
}

}  // namespace poolflow::net
