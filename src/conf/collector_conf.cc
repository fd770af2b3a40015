#include "conf/collector_conf.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "conf/registrar_conf.h"
#include "poolflow/transport.h"
#include "rserpool/message.h"

namespace poolflow::conf {

namespace {

void check_endpoints(Reader& r, const std::vector<std::string>& endpoints) {
  if (endpoints.empty())
    r.fail("listen.endpoints", "nothing to listen on (--listen sctp:HOST:PORT)");
  for (const std::string& e : endpoints) {
    const auto colon = e.find(':');
    const std::string kind = e.substr(0, colon == std::string::npos ? e.size() : colon);
    std::string host, error;
    uint16_t port = 0;
    if (kind != "sctp" && kind != "tcp" && kind != "udp")
      r.fail("listen.endpoints",
             "expected sctp:HOST:PORT, tcp:HOST:PORT or udp:HOST:PORT, got \"" + e + "\"");
    if (!split_host_port(e.substr(colon + 1), host, port, error))
      r.fail("listen.endpoints", kind + ": " + error);
  }
}

void check_outputs(Reader& r, const std::vector<std::string>& outputs) {
  for (const std::string& o : outputs) {
    const auto colon = o.find(':');
    const std::string kind = o.substr(0, colon == std::string::npos ? o.size() : colon);
    const std::string where = colon == std::string::npos ? "" : o.substr(colon + 1);
    if ((kind != "file" && kind != "jsonl") || where.empty())
      r.fail("write.outputs", "expected file:DIRECTORY or jsonl:PATH, got \"" + o + "\"");
    if (kind == "file") {
      struct stat st {};
      if (::stat(where.c_str(), &st) != 0)
        r.fail("write.outputs", where + ": " + std::strerror(errno));
      if (!S_ISDIR(st.st_mode)) r.fail("write.outputs", where + ": not a directory");
      if (::access(where.c_str(), W_OK) != 0)
        r.fail("write.outputs", where + ": " + std::strerror(errno));
    }
  }
}

void check_pool(Reader& r, const CollectorConf& c) {
  const CollectorConf::Pool& p = c.pool;
  if (p.handle.empty()) {
    if (p.register_only) r.fail("pool.handle", "--register-only needs a pool (--pool HANDLE)");
    if (!p.registrars.empty())
      r.fail("pool.registrars", "registrars without a pool handle (--pool HANDLE)");
    return;
  }
  if (p.registrars.empty())
    r.fail("pool.registrars", "a pool needs a registrar (--registrar HOST:PORT)");
  for (const std::string& text : p.registrars) {
    RegistrarAddress a;
    if (const std::string error = parse_registrar_address(text, a); !error.empty())
      r.fail("pool.registrars", error);
  }
  for (const char* kind : {"sctp", "tcp", "udp"})
    if (pool_handle_for(p, kind).size() > 255) r.fail("pool.handle", "longer than 255 octets");
  if (!rserpool::policy_from_name(p.policy))
    r.fail("pool.policy",
           "unknown policy \"" + p.policy +
               "\" (roundrobin, weighted-roundrobin, random, weighted-random, priority, leastused, "
               "leastused-degradation, priority-leastused, randomized-leastused)");
  r.check_range("pool.load_degradation_percent", p.load_degradation_percent, 0, 100);
  r.check_range("pool.registration_life_ms", p.registration_life_ms, 1000, 0x7fffffff);
  r.check_range("pool.reregistration_interval_ms", p.reregistration_interval_ms, 100,
                p.registration_life_ms);
  r.check_range("pool.response_timeout_ms", p.response_timeout_ms, 10, 600000);
  r.check_range("pool.reconnect_interval_ms", p.reconnect_interval_ms, 10, 600000);
  r.check_range("pool.capacity_records_per_s", p.capacity_records_per_s, 1, 0xffffffff);
  if (!p.address.empty() && !rserpool::Address::parse(p.address))
    r.fail("pool.address", "expected an IPv4 or IPv6 address, got \"" + p.address + "\"");
  if (!p.register_only) {
    if (!p.targets.empty())
      r.fail("pool.targets", "targets are registered only with --register-only");
    return;
  }
  if (p.targets.empty())
    r.fail("pool.targets",
           "--register-only needs a collector to register (--target udp:HOST:PORT)");
  for (const std::string& text : p.targets) {
    Target t;
    if (const std::string error = parse_target(text, t); !error.empty())
      r.fail("pool.targets", error);
  }
  r.check_range("pool.check_interval_ms", p.check_interval_ms, 10, 600000);
  r.check_range("pool.check_failures", p.check_failures, 1, 1000);
}

}  // namespace

std::string pool_handle_for(const CollectorConf::Pool& pool, const std::string& kind) {
  if (kind == "tcp") return pool.tcp_handle.empty() ? pool.handle + "-tcp" : pool.tcp_handle;
  if (kind == "udp") return pool.udp_handle.empty() ? pool.handle + "-udp" : pool.udp_handle;
  return pool.handle;
}

std::string parse_target(const std::string& text, Target& out) {
  const auto colon = text.find(':');
  out.kind = text.substr(0, colon == std::string::npos ? text.size() : colon);
  if ((out.kind != "sctp" && out.kind != "tcp" && out.kind != "udp") || colon == std::string::npos)
    return "expected sctp:HOST:PORT[/UDPPORT], tcp:HOST:PORT or udp:HOST:PORT, got \"" + text +
           "\"";
  const std::string where = text.substr(colon + 1);
  std::string error;
  if (out.kind == "sctp") {
    out.udp_encaps_port = rserpool::kSctpUdpEncapsPort;
    error = parse_sctp_peer(where, out.host, out.port, out.udp_encaps_port);
    if (!error.empty()) return out.kind + ": " + error;
  } else if (!split_host_port(where, out.host, out.port, error)) {
    return out.kind + ": \"" + where + "\": " + error;
  }
  // A third party's wildcard address says nothing about where it can be reached.
  if (const auto a = rserpool::Address::parse(out.host); a && a->is_unspecified())
    return "\"" + text + "\": a collector registered by address needs a specific one";
  return {};
}

CollectorConf load_collector_conf(const std::string& path, const CollectorOverrides& overrides) {
  std::set<std::string> command_line_keys;
  const toml::table root = load_table(path, overrides.sets, command_line_keys);
  if (!overrides.listens.empty()) command_line_keys.insert("listen.endpoints");
  if (!overrides.writes.empty()) command_line_keys.insert("write.outputs");
  if (!overrides.pool.empty()) command_line_keys.insert("pool.handle");
  if (!overrides.registrars.empty()) command_line_keys.insert("pool.registrars");
  if (overrides.register_only) command_line_keys.insert("pool.register_only");
  if (!overrides.targets.empty()) command_line_keys.insert("pool.targets");

  Reader r(root, path, command_line_keys);
  CollectorConf c;
  r.get("log.level", c.log.level);
  r.get("log.stats_interval_s", c.log.stats_interval_s);
  r.get("listen.endpoints", c.listen.endpoints);
  r.get("listen.max_sessions", c.listen.max_sessions);
  r.get("listen.receive_buffer_kib", c.listen.receive_buffer_kib);
  r.get("listen.udp_idle_timeout_s", c.listen.udp_idle_timeout_s);
  r.get("sctp.udp_encaps_port", c.sctp.udp_encaps_port);
  r.get("sctp.raw_ip", c.sctp.raw_ip);
  r.get("sctp.streams", c.sctp.streams);
  r.get("write.outputs", c.write.outputs);
  r.get("write.file_rotate_mib", c.write.file_rotate_mib);
  r.get("write.file_rotate_s", c.write.file_rotate_s);
  r.get("write.confirm_interval_ms", c.write.confirm_interval_ms);
  r.get("decoder.max_templates_per_session", c.decoder.max_templates_per_session);
  r.get("decoder.max_fields_per_template", c.decoder.max_fields_per_template);
  r.get("decoder.max_sequence_keys", c.decoder.max_sequence_keys);
  r.get("decoder.closed_sessions_kept", c.decoder.closed_sessions_kept);
  r.get("pool.handle", c.pool.handle);
  r.get("pool.registrars", c.pool.registrars);
  r.get("pool.tcp_handle", c.pool.tcp_handle);
  r.get("pool.udp_handle", c.pool.udp_handle);
  r.get("pool.policy", c.pool.policy);
  r.get("pool.weight", c.pool.weight);
  r.get("pool.priority", c.pool.priority);
  r.get("pool.load_degradation_percent", c.pool.load_degradation_percent);
  r.get("pool.registration_life_ms", c.pool.registration_life_ms);
  r.get("pool.reregistration_interval_ms", c.pool.reregistration_interval_ms);
  r.get("pool.response_timeout_ms", c.pool.response_timeout_ms);
  r.get("pool.reconnect_interval_ms", c.pool.reconnect_interval_ms);
  r.get("pool.address", c.pool.address);
  r.get("pool.capacity_records_per_s", c.pool.capacity_records_per_s);
  r.get("pool.register_only", c.pool.register_only);
  r.get("pool.targets", c.pool.targets);
  r.get("pool.check_interval_ms", c.pool.check_interval_ms);
  r.get("pool.check_failures", c.pool.check_failures);
  r.reject_unknown_keys();
  if (!overrides.listens.empty()) c.listen.endpoints = overrides.listens;
  if (!overrides.writes.empty()) c.write.outputs = overrides.writes;
  if (!overrides.pool.empty()) c.pool.handle = overrides.pool;
  if (!overrides.registrars.empty()) c.pool.registrars = overrides.registrars;
  if (overrides.register_only) c.pool.register_only = true;
  if (!overrides.targets.empty()) c.pool.targets = overrides.targets;
  if (c.pool.register_only && !overrides.listens.empty())
    r.fail("listen.endpoints", "--register-only registers --target collectors; it does not listen");

  r.check_log_level("log.level", c.log.level);
  check_endpoints(r, c.listen.endpoints);
  r.check_range("listen.max_sessions", c.listen.max_sessions, 1, 1u << 20);
  r.check_range("listen.receive_buffer_kib", c.listen.receive_buffer_kib, 64, 1u << 20);
  r.check_range("listen.udp_idle_timeout_s", c.listen.udp_idle_timeout_s, 1, 86400 * 7);
  if (!c.sctp.raw_ip) r.check_range("sctp.udp_encaps_port", c.sctp.udp_encaps_port, 1, 65535);
  r.check_range("sctp.streams", c.sctp.streams, 1, 65535);
  check_outputs(r, c.write.outputs);
  r.check_range("write.file_rotate_mib", c.write.file_rotate_mib, 1, 1u << 20);
  r.check_range("write.file_rotate_s", c.write.file_rotate_s, 1, 86400 * 7);
  r.check_range("write.confirm_interval_ms", c.write.confirm_interval_ms, 0, 60000);
  r.check_range("decoder.max_templates_per_session", c.decoder.max_templates_per_session, 1,
                1u << 20);
  r.check_range("decoder.max_fields_per_template", c.decoder.max_fields_per_template, 1, 16383);
  r.check_range("decoder.max_sequence_keys", c.decoder.max_sequence_keys, 1, 1u << 20);
  r.check_range("decoder.closed_sessions_kept", c.decoder.closed_sessions_kept, 0, 1u << 20);
  check_pool(r, c);
  return c;
}

}  // namespace poolflow::conf
