#include "conf/registrar_conf.h"

#include <arpa/inet.h>

#include <charconv>

#include "poolflow/transport.h"

namespace poolflow::conf {

std::string RegistrarAddress::text() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) +
         (udp_port == kRegistrarUdpEncapsPort ? "" : "/" + std::to_string(udp_port));
}

std::string parse_sctp_peer(const std::string& text, std::string& host, uint16_t& port,
                            uint16_t& udp_port) {
  std::string where = text;
  if (const auto slash = text.rfind('/'); slash != std::string::npos) {
    const std::string udp = text.substr(slash + 1);
    uint32_t v = 0;
    const auto [end, ec] = std::from_chars(udp.data(), udp.data() + udp.size(), v);
    if (ec != std::errc{} || end != udp.data() + udp.size() || v == 0 || v > 65535)
      return "\"" + text + "\": the UDP encapsulation port after '/' must be 1-65535";
    udp_port = static_cast<uint16_t>(v);
    where = text.substr(0, slash);
  }
  std::string error;
  if (!split_host_port(where, host, port, error)) return "\"" + text + "\": " + error;
  return {};
}

std::string parse_registrar_address(const std::string& text, RegistrarAddress& out) {
  out.udp_port = kRegistrarUdpEncapsPort;
  return parse_sctp_peer(text, out.host, out.port, out.udp_port);
}

RegistrarConf load_registrar_conf(const std::string& path, const RegistrarOverrides& overrides) {
  std::set<std::string> command_line_keys;
  const toml::table root = load_table(path, overrides.sets, command_line_keys);
  if (!overrides.asap.empty()) command_line_keys.insert("asap.listen");
  if (!overrides.announce.empty()) command_line_keys.insert("announce.enabled");

  Reader r(root, path, command_line_keys);
  RegistrarConf c;
  r.get("log.level", c.log.level);
  r.get("log.stats_interval_s", c.log.stats_interval_s);
  r.get("asap.listen", c.asap.listen);
  r.get("sctp.udp_encaps_port", c.sctp.udp_encaps_port);
  r.get("sctp.raw_ip", c.sctp.raw_ip);
  r.get("registrar.server_id", c.registrar.server_id);
  r.get("registrar.allow_loopback", c.registrar.allow_loopback);
  r.get("registrar.keep_alive_interval_ms", c.registrar.keep_alive_interval_ms);
  r.get("registrar.keep_alive_timeout_ms", c.registrar.keep_alive_timeout_ms);
  r.get("registrar.max_bad_pe_reports", c.registrar.max_bad_pe_reports);
  r.get("registrar.min_registration_life_ms", c.registrar.min_registration_life_ms);
  r.get("registrar.max_registration_life_ms", c.registrar.max_registration_life_ms);
  r.get("registrar.max_resolution_items", c.registrar.max_resolution_items);
  r.get("limits.max_pools", c.limits.max_pools);
  r.get("limits.max_elements_per_pool", c.limits.max_elements_per_pool);
  r.get("limits.max_elements_per_peer", c.limits.max_elements_per_peer);
  r.get("limits.max_associations_per_peer", c.limits.max_associations_per_peer);
  r.get("limits.max_handle_length", c.limits.max_handle_length);
  r.get("limits.max_message_size", c.limits.max_message_size);
  r.get("limits.max_bad_messages", c.limits.max_bad_messages);
  r.get("announce.enabled", c.announce.enabled);
  r.get("announce.group", c.announce.group);
  r.get("announce.port", c.announce.port);
  r.get("announce.interface", c.announce.interface);
  r.get("announce.interval_ms", c.announce.interval_ms);
  r.get("announce.ttl", c.announce.ttl);
  r.reject_unknown_keys();
  if (!overrides.asap.empty()) c.asap.listen = overrides.asap;
  if (overrides.announce == "on") c.announce.enabled = true;
  if (overrides.announce == "off") c.announce.enabled = false;
  if (!overrides.announce.empty() && overrides.announce != "on" && overrides.announce != "off")
    r.fail("announce.enabled", "--announce takes on or off, got \"" + overrides.announce + "\"");

  r.check_log_level("log.level", c.log.level);
  {
    std::string host, error;
    uint16_t port = 0;
    if (!split_host_port(c.asap.listen, host, port, error)) r.fail("asap.listen", error);
  }
  if (!c.sctp.raw_ip) r.check_range("sctp.udp_encaps_port", c.sctp.udp_encaps_port, 1, 65535);
  r.check_range("registrar.keep_alive_interval_ms", c.registrar.keep_alive_interval_ms, 10,
                3'600'000);
  r.check_range("registrar.keep_alive_timeout_ms", c.registrar.keep_alive_timeout_ms, 10,
                3'600'000);
  r.check_range("registrar.max_bad_pe_reports", c.registrar.max_bad_pe_reports, 1, 1000);
  r.check_range("registrar.min_registration_life_ms", c.registrar.min_registration_life_ms, 1,
                0x7fffffff);
  r.check_range("registrar.max_registration_life_ms", c.registrar.max_registration_life_ms,
                c.registrar.min_registration_life_ms, 0x7fffffff);
  r.check_range("limits.max_pools", c.limits.max_pools, 1, 1u << 20);
  r.check_range("limits.max_elements_per_pool", c.limits.max_elements_per_pool, 1, 1u << 20);
  r.check_range("limits.max_elements_per_peer", c.limits.max_elements_per_peer, 1, 1u << 20);
  r.check_range("limits.max_associations_per_peer", c.limits.max_associations_per_peer, 1,
                1u << 16);
  r.check_range("limits.max_handle_length", c.limits.max_handle_length, 1, 1024);
  r.check_range("limits.max_message_size", c.limits.max_message_size, 64, 65535);
  r.check_range("limits.max_bad_messages", c.limits.max_bad_messages, 1, 1u << 20);
  in_addr group{};
  if (inet_pton(AF_INET, c.announce.group.c_str(), &group) != 1 ||
      (ntohl(group.s_addr) >> 28) != 0xe)
    r.fail("announce.group",
           "expected an IPv4 multicast address, got \"" + c.announce.group + "\"");
  r.check_range("announce.port", c.announce.port, 1, 65535);
  r.check_range("announce.interval_ms", c.announce.interval_ms, 100, 3'600'000);
  r.check_range("announce.ttl", c.announce.ttl, 0, 255);
  in_addr interface {};
  if (c.announce.enabled && inet_pton(AF_INET, c.announce.interface.c_str(), &interface) != 1)
    r.fail("announce.interface",
           "announcing needs the IPv4 address of the interface to announce on, got \"" +
               c.announce.interface + "\"");
  return c;
}

}  // namespace poolflow::conf
