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
    bool operator==(const Write&) const = default;
  } write;

  struct Decoder {
    uint32_t max_templates_per_session = 1024;
    uint16_t max_fields_per_template = 256;
    uint32_t max_sequence_keys = 1024;
    uint32_t closed_sessions_kept = 256;
    bool operator==(const Decoder&) const = default;
  } decoder;

  bool operator==(const CollectorConf&) const = default;
};

struct CollectorOverrides {
  std::vector<std::string> sets;     ///< "section.key=value"
  std::vector<std::string> listens;  ///< --listen: replace listen.endpoints
  std::vector<std::string> writes;   ///< --write: replace write.outputs
};

/// Reads `path` (defaults only when empty), applies `overrides` and checks the
/// result. Throws ConfError.
CollectorConf load_collector_conf(const std::string& path, const CollectorOverrides& overrides);

}  // namespace poolflow::conf
