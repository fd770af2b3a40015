#include "conf/collector_conf.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "poolflow/transport.h"

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

}  // namespace

CollectorConf load_collector_conf(const std::string& path, const CollectorOverrides& overrides) {
  std::set<std::string> command_line_keys;
  const toml::table root = load_table(path, overrides.sets, command_line_keys);
  if (!overrides.listens.empty()) command_line_keys.insert("listen.endpoints");
  if (!overrides.writes.empty()) command_line_keys.insert("write.outputs");

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
  r.get("decoder.max_templates_per_session", c.decoder.max_templates_per_session);
  r.get("decoder.max_fields_per_template", c.decoder.max_fields_per_template);
  r.get("decoder.max_sequence_keys", c.decoder.max_sequence_keys);
  r.get("decoder.closed_sessions_kept", c.decoder.closed_sessions_kept);
  r.reject_unknown_keys();
  if (!overrides.listens.empty()) c.listen.endpoints = overrides.listens;
  if (!overrides.writes.empty()) c.write.outputs = overrides.writes;

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
  r.check_range("decoder.max_templates_per_session", c.decoder.max_templates_per_session, 1,
                1u << 20);
  r.check_range("decoder.max_fields_per_template", c.decoder.max_fields_per_template, 1, 16383);
  r.check_range("decoder.max_sequence_keys", c.decoder.max_sequence_keys, 1, 1u << 20);
  r.check_range("decoder.closed_sessions_kept", c.decoder.closed_sessions_kept, 0, 1u << 20);
  return c;
}

}  // namespace poolflow::conf
