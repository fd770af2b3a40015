// What a poolflow-collector tells its exporter it has stored, as the value of
// the ASAP Cookie parameter (RFC 5352 §2.2.11: opaque to ASAP; the pool
// element sends it to the pool user, which echoes it to the next pool element
// after a failover). The collector sends it, as COOKIE on PPID 11 over the IPFIX
// association, once the messages before the positions it names are written out
// (write(2)); the exporter releases those records from its replay buffer. No I/O.
//
// Layout (network byte order): "PFSC", version 1, 3 reserved octets, collector
// PE id (u32; 0 when not a pool element), collector transport session (u64),
// time of storage (ms since 1970, u64), count (u16), reserved (u16), then count
// positions: stream (u16), reserved (u16), observation domain (u32), next
// sequence number (u32: every data record numbered below it is stored).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace poolflow::rserpool {

struct StoredPosition {
  uint16_t stream = 0;
  uint32_t domain = 0;
  uint32_t next_sequence = 0;
  bool operator==(const StoredPosition&) const = default;
};

struct StorageCookie {
  static constexpr size_t kMaxPositions = 1024;
  uint32_t collector_pe = 0;
  uint64_t session = 0;
  uint64_t stored_ms = 0;
  std::vector<StoredPosition> positions;
  bool operator==(const StorageCookie&) const = default;
};

std::vector<uint8_t> encode_storage_cookie(const StorageCookie& cookie);

/// Empty when `bytes` is not a storage cookie of this version (another
/// collector's cookie, or garbage): it is then only echoed, never interpreted.
std::optional<StorageCookie> decode_storage_cookie(std::span<const uint8_t> bytes);

}  // namespace poolflow::rserpool
