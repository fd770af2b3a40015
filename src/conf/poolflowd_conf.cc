#include "conf/poolflowd_conf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <thread>

#include "conf/registrar_conf.h"
#include "poolflow/transport.h"

namespace poolflow::conf {

namespace {

void check_cores(Reader& r, const PoolflowdConf::Cpu& cpu) {
  const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  auto check_exists = [&](const std::string& key, uint32_t core) {
    if (core >= cpus)
      r.fail(key, "core " + std::to_string(core) + " does not exist (this machine has CPUs 0-" +
                      std::to_string(cpus - 1) + ")");
  };
  check_exists("cpu.control_core", cpu.control_core);
  check_exists("cpu.aggregator_core", cpu.aggregator_core);
  if (cpu.worker_cores.empty())
    r.fail("cpu.worker_cores", "no worker core: at least one is needed");
  std::set<uint32_t> seen;
  for (uint32_t core : cpu.worker_cores) {
    check_exists("cpu.worker_cores", core);
    if (!seen.insert(core).second && cpu.exclusive)
      r.fail("cpu.worker_cores",
             "core " + std::to_string(core) + " is listed twice (cpu.exclusive = false allows it)");
  }
  if (!cpu.exclusive) return;
  if (seen.count(cpu.aggregator_core))
    r.fail("cpu.aggregator_core", "core " + std::to_string(cpu.aggregator_core) +
                                      " is also a worker core (a polling worker owns its core)");
  if (seen.count(cpu.control_core))
    r.fail("cpu.control_core", "core " + std::to_string(cpu.control_core) +
                                   " is also a worker core (a polling worker owns its core)");
}

void check_input(Reader& r, const PoolflowdConf& c) {
  const auto& in = c.input;
  if (!in.pcaps.empty() && !in.devices.empty())
    r.fail("input.pcaps", "input.pcaps and input.devices exclude each other");
  if (in.pcaps.empty() && in.devices.empty())
    r.fail("input.devices", "no input: name a port (PCI address or vdev) or play a pcap (--pcap)");
  // Each played back capture keeps its own flow clock only if it has its own worker.
  if (in.pcaps.size() > c.cpu.worker_cores.size())
    r.fail("input.pcaps", std::to_string(in.pcaps.size()) +
                              " captures need as many worker cores (each keeps its own flow "
                              "clock); cpu.worker_cores has " +
                              std::to_string(c.cpu.worker_cores.size()));
  r.check_range("input.pcap_speed_percent", in.pcap_speed_percent, 0, 1'000'000);
  for (const std::string& pcap : in.pcaps)
    if (::access(pcap.c_str(), R_OK) != 0)
      r.fail("input.pcaps", pcap + ": " + std::strerror(errno));
  r.check_range("input.rx_descriptors", in.rx_descriptors, 64, 32768);
  r.check_range("input.mbuf_cache_size", in.mbuf_cache_size, 0, 512);
  r.check_range("input.port_stats_interval_ms", in.port_stats_interval_ms, 10, 60000);
  // Every port may get a queue per worker, all filled from the one pool. (A playback
  // sizes its own pool: it has no RX rings.)
  if (in.devices.empty()) return;
  const uint64_t needed =
      uint64_t{in.rx_descriptors} * c.cpu.worker_cores.size() * in.devices.size() +
      uint64_t{in.mbuf_cache_size} * (c.cpu.worker_cores.size() + 1) + 64;
  if (in.mbuf_pool_size < needed)
    r.fail("input.mbuf_pool_size",
           "must be at least " + std::to_string(needed) +
               " (rx_descriptors per worker and port + a cache per lcore + bursts), got " +
               std::to_string(in.mbuf_pool_size));
}

void check_export(Reader& r, const PoolflowdConf::Export& e) {
  if (e.outputs.empty())
    r.fail("export.outputs", "no output: add one (--output file:PATH, or --pool HANDLE)");
  for (const std::string& output : e.outputs)
    if (output.starts_with(kPoolOutputPrefix))
      continue;  // check_pool()
    else if (const std::string error = validate_transport_spec(output); !error.empty())
      r.fail("export.outputs", error);
  // Room for the largest template message: the flow templates and their options records.
  r.check_range("export.max_message_size", e.max_message_size, 1024, 65535);
  r.check_range("export.flush_interval_ms", e.flush_interval_ms, 1, 60000);
  r.check_range("export.send_queue_kib", e.send_queue_kib, 64, 1u << 20);
  r.check_range("export.close_timeout_ms", e.close_timeout_ms, 0, 600000);
  r.check_range("export.replay_buffer_mib", e.replay_buffer_mib, 0, 65536);
  r.check_range("export.replay_buffer_s", e.replay_buffer_s, 1, 86400);
  r.check_range("export.statistics_interval_s", e.statistics_interval_s, 0, 86400);
  std::string error;
  parse_reliability(e.tcp_flows, error);
  if (!error.empty()) r.fail("export.tcp_flows", error);
  parse_reliability(e.other_flows, error);
  if (!error.empty()) r.fail("export.other_flows", error);
}

void check_transport(Reader& r, const TransportOptions& t) {
  r.check_range("sctp.remote_udp_port", t.sctp.remote_udp_port, 1, 65535);
  r.check_range("sctp.streams", t.sctp.streams, 3, 65535);
  r.check_range("sctp.rto_min_ms", t.sctp.rto_min_ms, 10, 60000);
  r.check_range("sctp.rto_initial_ms", t.sctp.rto_initial_ms, t.sctp.rto_min_ms, 60000);
  r.check_range("sctp.rto_max_ms", t.sctp.rto_max_ms, t.sctp.rto_initial_ms, 120000);
  r.check_range("sctp.max_retransmissions", t.sctp.max_retransmissions, 1, 100);
  r.check_range("sctp.heartbeat_interval_ms", t.sctp.heartbeat_interval_ms, 10, 3600000);
  r.check_range("sctp.connect_timeout_ms", t.sctp.connect_timeout_ms, 10, 600000);
  r.check_range("sctp.send_buffer_kib", t.sctp.send_buffer_kib, 64, 1u << 20);
  r.check_range("sctp.reconnect_interval_s", t.sctp.reconnect_interval_s, 0, 86400);
  r.check_range("tcp.reconnect_interval_s", t.tcp.reconnect_interval_s, 1, 86400);
  r.check_range("tcp.reconnect_max_s", t.tcp.reconnect_max_s, t.tcp.reconnect_interval_s, 86400);
  r.check_range("tcp.send_buffer_kib", t.tcp.send_buffer_kib, 64, 1u << 20);
  r.check_range("udp.template_refresh_s", t.udp.template_refresh_s, 1, 86400);
  r.check_range("udp.send_buffer_kib", t.udp.send_buffer_kib, 64, 1u << 20);
}

// One pool per poolflowd: pool.handle, or the handle its pool:HANDLE output names.
void check_pool(Reader& r, PoolflowdConf& c) {
  PoolflowdConf::Pool& p = c.pool;
  for (const std::string& output : c.export_.outputs) {
    if (!output.starts_with(kPoolOutputPrefix)) continue;
    const std::string handle = output.substr(kPoolOutputPrefix.size());
    if (p.handle.empty()) p.handle = handle;
    if (handle != p.handle)
      r.fail("export.outputs", "\"" + output + "\" names another pool than pool.handle \"" +
                                   p.handle + "\" (one pool per poolflowd)");
  }
  const bool pool_output = std::count(c.export_.outputs.begin(), c.export_.outputs.end(),
                                      std::string(kPoolOutputPrefix) + p.handle) != 0;
  if (p.handle.empty()) return;
  if (!pool_output)
    r.fail("pool.handle", "no output exports to it: add \"pool:" + p.handle +
                              "\" to export.outputs (or give --pool)");
  // RFC 5351 leaves the handle's length open; the registrar takes 64 octets by default.
  if (p.handle.size() > 64) r.fail("pool.handle", "longer than 64 octets");
  if (p.registrars.empty() && !p.announces)
    r.fail("pool.registrars",
           "no registrar to ask: add one (--registrar HOST:PORT) or set pool.announces = true");
  for (const std::string& text : p.registrars) {
    RegistrarAddress a;
    if (const std::string error = parse_registrar_address(text, a); !error.empty())
      r.fail("pool.registrars", error);
  }
  r.check_range("pool.sessions", p.sessions, 1, 64);
  r.check_range("pool.request_timeout_ms", p.request_timeout_ms, 10, 600000);
  r.check_range("pool.request_retransmits", p.request_retransmits, 0, 100);
  r.check_range("pool.reconnect_interval_ms", p.reconnect_interval_ms, 10, 600000);
  r.check_range("pool.stale_cache_ms", p.stale_cache_ms, 10, 86400000);
  r.check_range("pool.retry_interval_ms", p.retry_interval_ms, 10, 600000);
  r.check_range("pool.announce_port", p.announce_port, 1, 65535);
  if (p.announces) {
    in_addr group{}, interface {};
    if (inet_pton(AF_INET, p.announce_group.c_str(), &group) != 1 ||
        !IN_MULTICAST(ntohl(group.s_addr)))
      r.fail("pool.announce_group",
             "expected an IPv4 multicast address, got \"" + p.announce_group + "\"");
    if (inet_pton(AF_INET, p.announce_interface.c_str(), &interface) != 1)
      r.fail("pool.announce_interface",
             "expected the IPv4 address of an interface, got \"" + p.announce_interface + "\"");
  }
}

}  // namespace

PoolflowdConf load_poolflowd_conf(const std::string& path, const CommandLineOverrides& overrides) {
  std::set<std::string> command_line_keys;
  const toml::table root = load_table(path, overrides.sets, command_line_keys);
  if (!overrides.pcaps.empty()) command_line_keys.insert("input.pcaps");
  if (!overrides.outputs.empty() || !overrides.pool.empty())
    command_line_keys.insert("export.outputs");
  if (!overrides.pool.empty()) command_line_keys.insert("pool.handle");
  if (!overrides.registrars.empty()) command_line_keys.insert("pool.registrars");

  Reader r(root, path, command_line_keys);
  PoolflowdConf c;
  r.get("log.level", c.log.level);
  r.get("log.stats_interval_s", c.log.stats_interval_s);
  r.get("eal.memory_mb", c.eal.memory_mb);
  r.get("eal.hugepages", c.eal.hugepages);
  r.get("eal.file_prefix", c.eal.file_prefix);
  r.get("eal.extra_args", c.eal.extra_args);
  r.get("cpu.control_core", c.cpu.control_core);
  r.get("cpu.aggregator_core", c.cpu.aggregator_core);
  r.get("cpu.worker_cores", c.cpu.worker_cores);
  r.get("cpu.exclusive", c.cpu.exclusive);
  r.get("input.pcaps", c.input.pcaps);
  r.get("input.pcap_speed_percent", c.input.pcap_speed_percent);
  r.get("input.devices", c.input.devices);
  r.get("input.rx_descriptors", c.input.rx_descriptors);
  r.get("input.mbuf_pool_size", c.input.mbuf_pool_size);
  r.get("input.mbuf_cache_size", c.input.mbuf_cache_size);
  r.get("input.promiscuous", c.input.promiscuous);
  r.get("input.port_stats_interval_ms", c.input.port_stats_interval_ms);
  r.get("meter.flow_table_size", c.meter.flow_table_size);
  r.get("meter.idle_timeout_s", c.meter.idle_timeout_s);
  r.get("meter.active_timeout_s", c.meter.active_timeout_s);
  r.get("meter.tcp_end_grace_ms", c.meter.tcp_end_grace_ms);
  r.get("meter.expiry_slots_per_poll", c.meter.expiry_slots_per_poll);
  r.get("meter.ring_size", c.meter.ring_size);
  r.get("meter.biflow", c.meter.biflow);
  r.get("export.outputs", c.export_.outputs);
  r.get("export.observation_domain_id", c.export_.observation_domain_id);
  r.get("export.max_message_size", c.export_.max_message_size);
  r.get("export.flush_interval_ms", c.export_.flush_interval_ms);
  r.get("export.tcp_flows", c.export_.tcp_flows);
  r.get("export.other_flows", c.export_.other_flows);
  r.get("export.templates_on_stream_zero", c.export_.templates_on_stream_zero);
  r.get("export.send_queue_kib", c.export_.send_queue_kib);
  r.get("export.close_timeout_ms", c.export_.close_timeout_ms);
  r.get("export.replay_buffer_mib", c.export_.replay_buffer_mib);
  r.get("export.replay_buffer_s", c.export_.replay_buffer_s);
  r.get("export.statistics_interval_s", c.export_.statistics_interval_s);
  r.get("pool.handle", c.pool.handle);
  r.get("pool.registrars", c.pool.registrars);
  r.get("pool.sessions", c.pool.sessions);
  r.get("pool.request_timeout_ms", c.pool.request_timeout_ms);
  r.get("pool.request_retransmits", c.pool.request_retransmits);
  r.get("pool.reconnect_interval_ms", c.pool.reconnect_interval_ms);
  r.get("pool.stale_cache_ms", c.pool.stale_cache_ms);
  r.get("pool.retry_interval_ms", c.pool.retry_interval_ms);
  r.get("pool.items", c.pool.items);
  r.get("pool.announces", c.pool.announces);
  r.get("pool.announce_group", c.pool.announce_group);
  r.get("pool.announce_port", c.pool.announce_port);
  r.get("pool.announce_interface", c.pool.announce_interface);
  TransportOptions& t = c.transport;
  r.get("sctp.local_udp_port", t.sctp.local_udp_port);
  r.get("sctp.remote_udp_port", t.sctp.remote_udp_port);
  r.get("sctp.raw_ip", t.sctp.raw_ip);
  r.get("sctp.streams", t.sctp.streams);
  r.get("sctp.rto_initial_ms", t.sctp.rto_initial_ms);
  r.get("sctp.rto_min_ms", t.sctp.rto_min_ms);
  r.get("sctp.rto_max_ms", t.sctp.rto_max_ms);
  r.get("sctp.max_retransmissions", t.sctp.max_retransmissions);
  r.get("sctp.heartbeat_interval_ms", t.sctp.heartbeat_interval_ms);
  r.get("sctp.connect_timeout_ms", t.sctp.connect_timeout_ms);
  r.get("sctp.send_buffer_kib", t.sctp.send_buffer_kib);
  r.get("sctp.sack_clocked_sends", t.sctp.sack_clocked_sends);
  r.get("sctp.reconnect_interval_s", t.sctp.reconnect_interval_s);
  r.get("tcp.reconnect_interval_s", t.tcp.reconnect_interval_s);
  r.get("tcp.reconnect_max_s", t.tcp.reconnect_max_s);
  r.get("tcp.send_buffer_kib", t.tcp.send_buffer_kib);
  r.get("udp.template_refresh_s", t.udp.template_refresh_s);
  r.get("udp.template_refresh_messages", t.udp.template_refresh_messages);
  r.get("udp.send_buffer_kib", t.udp.send_buffer_kib);
  r.reject_unknown_keys();

  if (!overrides.pcaps.empty()) {
    c.input.pcaps = overrides.pcaps;
    c.input.devices.clear();
  }
  // --pool alone replaces the outputs as --output does; with --output, it adds to them.
  if (!overrides.outputs.empty() || !overrides.pool.empty()) c.export_.outputs = overrides.outputs;
  if (!overrides.pool.empty()) {
    c.pool.handle = overrides.pool;
    c.export_.outputs.push_back(std::string(kPoolOutputPrefix) + overrides.pool);
  }
  if (!overrides.registrars.empty()) c.pool.registrars = overrides.registrars;

  r.check_log_level("log.level", c.log.level);
  r.check_range("eal.memory_mb", c.eal.memory_mb, 64, 1u << 20);
  check_cores(r, c.cpu);
  check_input(r, c);
  r.check_range("meter.flow_table_size", c.meter.flow_table_size, 64, 1u << 28);
  // The flow table keeps times modulo 2^24 ms (4.66 h), so a flow must end well
  // before that: meter::kMaxIdleTimeoutMs and kMaxActiveTimeoutMs.
  r.check_range("meter.idle_timeout_s", c.meter.idle_timeout_s, 1, 3600);
  r.check_range("meter.active_timeout_s", c.meter.active_timeout_s, 1, 8000);
  r.check_range("meter.tcp_end_grace_ms", c.meter.tcp_end_grace_ms, 0, 60000);
  r.check_range("meter.expiry_slots_per_poll", c.meter.expiry_slots_per_poll, 1, 1u << 16);
  r.check_range("meter.ring_size", c.meter.ring_size, 1024, 1u << 24);
  check_export(r, c.export_);
  check_pool(r, c);
  check_transport(r, c.transport);
  c.transport.max_message_size = c.export_.max_message_size;
  return c;
}

}  // namespace poolflow::conf
