// Flow keys and expired flow records: the one data type that crosses from the
// metering workers to the aggregation thread (through an SPSC rte_ring, by value).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>

namespace poolflow {

/// flowEndReason (IPFIX IE 136) values, RFC 7012.
enum class FlowEndReason : uint8_t {
  none = 0,  ///< still active (never exported with this value)
  idle_timeout = 1,
  active_timeout = 2,
  end_of_flow = 3,  ///< TCP FIN or RST seen
  forced_end = 4,   ///< shutdown or end of a played back pcap
  lack_of_resources = 5,
};

/// What identifies a flow. Trivially copyable with no implicit padding, so it can
/// be hashed and compared as bytes; unused bytes must stay zero.
struct FlowKey {
  std::array<uint8_t, 16> src_addr{};  ///< IPv4: first 4 bytes, rest zero
  std::array<uint8_t, 16> dst_addr{};
  uint16_t src_port = 0;       ///< host byte order; 0 when the protocol has no ports
  uint16_t dst_port = 0;       ///< ICMP/ICMPv6: type << 8 | code
  uint16_t vlan_id = 0;        ///< outer 802.1Q/802.1ad VLAN id; 0 when untagged
  uint16_t inner_vlan_id = 0;  ///< inner (customer) VLAN id of QinQ; 0 when none
  uint8_t ingress_port = 0;    ///< DPDK port id (exported as ingressInterface)
  uint8_t protocol = 0;        ///< IP protocol number of the transport header
  uint8_t ip_version = 0;      ///< 4 or 6
  uint8_t reserved = 0;        ///< keeps the struct free of padding; always 0

  bool operator==(const FlowKey& other) const {
    return std::memcmp(this, &other, sizeof(FlowKey)) == 0;
  }
};
static_assert(sizeof(FlowKey) == 44);

/// MPLS top label stack entry without its TTL (IE mplsTopLabelStackSection):
/// label (20 bits), traffic class (3), bottom of stack (1), big-endian.
using MplsLabelSection = std::array<uint8_t, 3>;

/// One ended flow, as exported. A biflow (RFC 5103) is keyed in the direction
/// of its first packet (the initiator's); the reverse_* counters count the other.
struct FlowRecord {
  FlowKey key;
  uint8_t tcp_flags = 0;  ///< union of the TCP flags seen
  FlowEndReason end_reason = FlowEndReason::none;
  MplsLabelSection mpls_top_label{};  ///< of the flow's first packet; zero without MPLS
  bool biflow = false;                ///< reverse_* are meaningful
  uint8_t reverse_tcp_flags = 0;
  uint8_t reserved = 0;
  uint64_t first_ms = 0;  ///< first packet, milliseconds since the Unix epoch
  uint64_t last_ms = 0;   ///< last packet
  uint64_t packets = 0;
  uint64_t octets = 0;  ///< IP header + payload, as octetDeltaCount defines it
  uint64_t reverse_packets = 0;
  uint64_t reverse_octets = 0;
};
static_assert(sizeof(FlowRecord) == 104);
static_assert(sizeof(FlowRecord) % 4 == 0, "rte_ring element size must be a multiple of 4");

}  // namespace poolflow
