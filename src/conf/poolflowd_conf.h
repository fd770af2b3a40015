// poolflowd's configuration: the conf file (TOML), its defaults, command-line
// overrides and the checks that refuse impossible values before EAL starts.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "conf/toml_reader.h"
#include "poolflow/transport.h"

namespace poolflow::conf {

struct PoolflowdConf {
  struct Log {
    std::string level = "info";
    uint32_t stats_interval_s = 10;
    bool operator==(const Log&) const = default;
  } log;

  struct Eal {
    uint32_t memory_mb = 512;
    bool hugepages = false;
    std::string file_prefix = "poolflowd";
    std::vector<std::string> extra_args;
    bool operator==(const Eal&) const = default;
  } eal;

  struct Cpu {
    uint32_t control_core = 0;
    uint32_t aggregator_core = 0;
    std::vector<uint32_t> worker_cores{1};
    bool exclusive = true;  ///< refuse CPUs shared by workers or with the aggregation thread
    bool operator==(const Cpu&) const = default;
  } cpu;

  struct Input {
    std::vector<std::string> pcaps;   ///< each played back as one port
    uint32_t pcap_speed_percent = 0;  ///< pcaps played at this % of their capture pace; 0: at once
    std::vector<std::string> devices;
    uint32_t rx_descriptors = 1024;
    uint32_t mbuf_pool_size = 16383;
    uint32_t mbuf_cache_size = 256;
    bool promiscuous = true;
    uint32_t port_stats_interval_ms = 1000;  ///< the control core reads port counters
    bool operator==(const Input&) const = default;
  } input;

  struct Meter {
    uint32_t flow_table_size = 1u << 20;
    uint32_t idle_timeout_s = 15;
    uint32_t active_timeout_s = 1800;
    uint32_t tcp_end_grace_ms = 1000;
    uint32_t expiry_slots_per_poll = 8;
    uint32_t ring_size = 65536;
    bool biflow = false;
    bool operator==(const Meter&) const = default;
  } meter;

  struct Export {
    std::vector<std::string> outputs;
    uint32_t observation_domain_id = 1;
    uint32_t max_message_size = 1400;
    uint32_t flush_interval_ms = 1000;
    std::string tcp_flows = "reliable";  ///< reliability class of TCP flows' records (SCTP)
    std::string other_flows = "rtx:2";   ///< and of every other flow's
    bool templates_on_stream_zero = false;
    uint32_t send_queue_kib = 4096;
    uint32_t close_timeout_ms = 2000;
    uint32_t replay_buffer_mib = 64;  ///< SCTP: reliable records kept until stored; 0: none
    uint32_t replay_buffer_s = 60;
    uint32_t statistics_interval_s = 60;
    bool operator==(const Export&) const = default;
  } export_;

  /// The collector pool that a "pool:HANDLE" output exports to (RSerPool).
  struct Pool {
    std::string handle;                   ///< --pool; also named by a pool:HANDLE output
    std::vector<std::string> registrars;  ///< --registrar HOST:PORT[/UDPPORT] (repeatable)
    uint32_t sessions = 1;                ///< pool elements exported to at once
    uint32_t request_timeout_ms = 2000;   ///< T1-ENRPrequest
    uint32_t request_retransmits = 2;     ///< MAX-REQUEST-RETRANSMIT
    uint32_t reconnect_interval_ms = 1000;
    uint32_t stale_cache_ms = 5000;
    uint32_t retry_interval_ms = 1000;  ///< after an answer without elements
    uint32_t items = 0;                 ///< elements asked for; 0: the registrar's default
    bool announces = false;             ///< learn registrars from SERVER_ANNOUNCE
    std::string announce_group = "224.0.1.185";
    uint16_t announce_port = 3863;
    std::string announce_interface = "127.0.0.1";  ///< IPv4 address of the interface
    bool operator==(const Pool&) const = default;
  } pool;

  TransportOptions transport;  ///< [sctp], [tcp], [udp]

  bool operator==(const PoolflowdConf&) const = default;
};

/// Settings given on the command line, applied over the conf file.
struct CommandLineOverrides {
  std::vector<std::string> sets;        ///< "section.key=value", value in TOML syntax
  std::vector<std::string> pcaps;       ///< --pcap: replace input.pcaps and input.devices
  std::vector<std::string> outputs;     ///< --output: replace export.outputs
  std::string pool;                     ///< --pool: export to pool:HANDLE (beside --output's)
  std::vector<std::string> registrars;  ///< --registrar: replace pool.registrars
};

/// "pool:HANDLE" outputs name a collector pool rather than a collector.
inline constexpr std::string_view kPoolOutputPrefix = "pool:";

/// Reads `path` (defaults only when empty), applies `overrides` and checks the
/// result. Throws ConfError.
PoolflowdConf load_poolflowd_conf(const std::string& path, const CommandLineOverrides& overrides);

}  // namespace poolflow::conf
