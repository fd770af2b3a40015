// poolflow-collector's configuration: conf file (TOML), defaults, command-line
// overrides and checks, read with the same Reader as poolflowd's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "conf/toml_reader.h"

namespace poolflow::conf {

struct CollectorConf {
  struct Log {
    std::string level = "info";
    uint32_t stats_interval_s = 0;
    bool operator==(const Log&) const = default;
  } log;

  struct Listen {
    std::vector<std::string> endpoints{"sctp:0.0.0.0:4739"};
    uint32_t max_sessions = 1024;
    uint32_t receive_buffer_kib = 4096;
    uint32_t udp_idle_timeout_s = 1800;
    bool operator==(const Listen&) const = default;
  } listen;

  struct Sctp {
    uint16_t udp_encaps_port = 9899;
    bool raw_ip = false;
    uint16_t streams = 64;
    bool operator==(const Sctp&) const = default;
  } sctp;

  struct Write {
    std::vector<std::string> outputs;
    uint32_t file_rotate_mib = 256;
    uint32_t file_rotate_s = 3600;
    /// SCTP exporters are told what is stored (written out) this often; 0: never
    uint32_t confirm_interval_ms = 200;
    bool operator==(const Write&) const = default;
  } write;

  struct Decoder {
    uint32_t max_templates_per_session = 1024;
    uint16_t max_fields_per_template = 256;
    uint32_t max_sequence_keys = 1024;
    uint32_t closed_sessions_kept = 256;
    bool operator==(const Decoder&) const = default;
  } decoder;

  /// The collector as an RSerPool pool element (src/collector/pool_membership).
  struct Pool {
    std::string handle;                   ///< --pool; empty: not in a pool
    std::vector<std::string> registrars;  ///< --registrar HOST:PORT[/UDPPORT] (repeatable)
    std::string tcp_handle;               ///< TCP listeners' pool; empty: handle + "-tcp"
    std::string udp_handle;               ///< UDP listeners' pool; empty: handle + "-udp"
    std::string policy = "roundrobin";    ///< RFC 5356 policy, one per pool
    uint32_t weight = 1;
    uint32_t priority = 0;
    uint32_t load_degradation_percent = 0;  ///< leastused-degradation, priority-leastused
    uint32_t registration_life_ms = 30000;
    uint32_t reregistration_interval_ms = 10000;
    uint32_t response_timeout_ms = 3000;
    uint32_t reconnect_interval_ms = 1000;
    std::string
        address;  ///< registered for wildcard listeners; empty: the one that reaches the registrar
    uint32_t capacity_records_per_s = 1'000'000;  ///< load = records/s against this
    /// --register-only: register `targets`, third-party collectors, instead
    /// of listening, and keep them registered while their checks pass.
    bool register_only = false;
    std::vector<std::string> targets;  ///< --target sctp|tcp|udp:HOST:PORT (sctp: [/UDPPORT])
    uint32_t check_interval_ms = 500;  ///< one check of every target this often
    uint32_t check_failures = 2;       ///< this many failed checks in a row: deregister
    bool operator==(const Pool&) const = default;
  } pool;

  bool operator==(const CollectorConf&) const = default;
};

struct CollectorOverrides {
  std::vector<std::string> sets;        ///< "section.key=value"
  std::vector<std::string> listens;     ///< --listen: replace listen.endpoints
  std::vector<std::string> writes;      ///< --write: replace write.outputs
  std::string pool;                     ///< --pool: replaces pool.handle
  std::vector<std::string> registrars;  ///< --registrar: replace pool.registrars
  bool register_only = false;           ///< --register-only
  std::vector<std::string> targets;     ///< --target: replace pool.targets
  std::vector<std::string> merges;      ///< --merge DIR: merge these instead of collecting
};

/// A collector endpoint registered in a pool: one of this collector's
/// listeners, or with --register-only a third-party collector given as
/// "sctp:HOST:PORT[/UDPPORT]", "tcp:HOST:PORT" or "udp:HOST:PORT".
struct Target {
  std::string kind;  ///< "sctp", "tcp" or "udp"
  std::string host;
  uint16_t port = 0;
  uint16_t udp_encaps_port = 9899;  ///< sctp: its UDP encapsulation port; 0: raw IP
};
/// Returns an error message, empty when `text` is good.
std::string parse_target(const std::string& text, Target& out);

/// The pool handle a listener of `kind` ("sctp", "tcp", "udp") registers in:
/// a pool has one transport type (RFC 5352 §3.1), so each kind has its own.
std::string pool_handle_for(const CollectorConf::Pool& pool, const std::string& kind);

/// Reads `path` (defaults only when empty), applies `overrides` and checks the
/// result. Throws ConfError.
CollectorConf load_collector_conf(const std::string& path, const CollectorOverrides& overrides);

}  // namespace poolflow::conf
