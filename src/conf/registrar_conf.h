// poolflow-registrar's configuration: conf file (TOML), defaults, command-line
// overrides and checks, read with the same Reader as the other programs'.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "conf/toml_reader.h"

namespace poolflow::conf {

/// The registrar's own UDP encapsulation port (RFC 6951), which pool users and
/// pool elements assume unless a registrar address says "HOST:PORT/UDPPORT".
/// Not 9899, so a registrar and a collector can share a host with defaults.
inline constexpr uint16_t kRegistrarUdpEncapsPort = 9900;

struct RegistrarConf {
  struct Log {
    std::string level = "info";
    uint32_t stats_interval_s = 0;
    bool operator==(const Log&) const = default;
  } log;

  struct Asap {
    std::string listen = "0.0.0.0:3863";  ///< --asap HOST:PORT
    bool operator==(const Asap&) const = default;
  } asap;

  struct Sctp {
    uint16_t udp_encaps_port = kRegistrarUdpEncapsPort;
    bool raw_ip = false;
    bool operator==(const Sctp&) const = default;
  } sctp;

  struct Registrar {
    uint32_t server_id = 0;  ///< 0: a random one at each start
    bool allow_loopback = false;
    uint32_t keep_alive_interval_ms = 5000;
    uint32_t keep_alive_timeout_ms = 5000;
    uint32_t max_bad_pe_reports = 3;
    uint32_t min_registration_life_ms = 1000;
    uint32_t max_registration_life_ms = 3'600'000;
    uint32_t max_resolution_items = 0;
    bool operator==(const Registrar&) const = default;
  } registrar;

  struct Limits {
    uint32_t max_pools = 1000;
    uint32_t max_elements_per_pool = 1000;
    uint32_t max_elements_per_peer = 1000;
    uint32_t max_associations_per_peer = 64;
    uint32_t max_handle_length = 64;
    uint32_t max_message_size = 4096;
    uint32_t max_bad_messages = 16;
    bool operator==(const Limits&) const = default;
  } limits;

  struct Announce {
    bool enabled = false;  ///< --announce on|off
    std::string group = "224.0.1.185";
    uint16_t port = 3863;
    std::string interface;  ///< IPv4 address of the interface to announce on
    uint32_t interval_ms = 1000;
    uint32_t ttl = 1;
    bool operator==(const Announce&) const = default;
  } announce;

  bool operator==(const RegistrarConf&) const = default;
};

struct RegistrarOverrides {
  std::vector<std::string> sets;  ///< "section.key=value"
  std::string asap;               ///< --asap: replaces asap.listen
  std::string announce;           ///< --announce on|off: replaces announce.enabled
};

/// Reads `path` (defaults only when empty), applies `overrides` and checks the
/// result. Throws ConfError.
RegistrarConf load_registrar_conf(const std::string& path, const RegistrarOverrides& overrides);

/// "HOST:PORT" or "HOST:PORT/UDPPORT" of a registrar: the UDP encapsulation
/// port is kRegistrarUdpEncapsPort unless given. An empty string on success,
/// otherwise what is wrong.
struct RegistrarAddress {
  std::string host;
  uint16_t port = 3863;
  uint16_t udp_port = kRegistrarUdpEncapsPort;
  std::string text() const;
};
/// "HOST:PORT" or "HOST:PORT/UDPPORT", an SCTP peer reached over UDP
/// encapsulation; `udp_port` keeps its value without "/UDPPORT". Returns an
/// error message, empty when `text` is good.
std::string parse_sctp_peer(const std::string& text, std::string& host, uint16_t& port,
                            uint16_t& udp_port);
std::string parse_registrar_address(const std::string& text, RegistrarAddress& out);

}  // namespace poolflow::conf
