// ASAP (RFC 5352) and ENRP (RFC 5353) messages with the parameters of RFC 5354,
// as plain values: what the codec (codec.h) decodes from the wire and encodes
// onto it. No I/O here; the state machines take and give these.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <sys/socket.h>

namespace poolflow::rserpool {

/// SCTP payload protocol identifiers (RFC 5352 §5.1, RFC 5353 §8).
inline constexpr uint32_t kAsapPpid = 11;
inline constexpr uint32_t kEnrpPpid = 12;
inline constexpr uint16_t kAsapPort = 3863;
inline constexpr uint16_t kEnrpPort = 9901;
/// The well-known SCTP-over-UDP port (RFC 6951), meant when a registration
/// carries no UDP encapsulation port.
inline constexpr uint16_t kSctpUdpEncapsPort = 9899;

enum class Protocol : uint8_t { asap, enrp };

/// ASAP message types (RFC 5352 §2.2).
enum class AsapType : uint8_t {
  registration = 0x01,
  deregistration = 0x02,
  registration_response = 0x03,
  deregistration_response = 0x04,
  handle_resolution = 0x05,
  handle_resolution_response = 0x06,
  endpoint_keep_alive = 0x07,
  endpoint_keep_alive_ack = 0x08,
  endpoint_unreachable = 0x09,
  server_announce = 0x0a,
  cookie = 0x0b,
  cookie_echo = 0x0c,
  business_card = 0x0d,
  error = 0x0e,
};

/// ENRP message types (RFC 5353 §2).
enum class EnrpType : uint8_t {
  presence = 0x01,
  handle_table_request = 0x02,
  handle_table_response = 0x03,
  handle_update = 0x04,
  list_request = 0x05,
  list_response = 0x06,
  init_takeover = 0x07,
  init_takeover_ack = 0x08,
  takeover_server = 0x09,
  error = 0x0a,
};

/// Flag bits of the message header.
inline constexpr uint8_t kFlagReject = 0x01;         ///< REGISTRATION_RESPONSE, ENRP responses (R)
inline constexpr uint8_t kFlagHome = 0x01;           ///< ENDPOINT_KEEP_ALIVE (H)
inline constexpr uint8_t kFlagReplyRequired = 0x01;  ///< ENRP_PRESENCE (R)
inline constexpr uint8_t kFlagOwnChildrenOnly = 0x01;  ///< ENRP_HANDLE_TABLE_REQUEST (W)
inline constexpr uint8_t kFlagMore = 0x02;             ///< ENRP_HANDLE_TABLE_RESPONSE (M)

/// Parameter types (RFC 5354 §2.2 and §3).
enum class ParamType : uint16_t {
  ipv4_address = 0x0001,
  ipv6_address = 0x0002,
  dccp_transport = 0x0003,
  sctp_transport = 0x0004,
  tcp_transport = 0x0005,
  udp_transport = 0x0006,
  udp_lite_transport = 0x0007,
  selection_policy = 0x0008,
  pool_handle = 0x0009,
  pool_element = 0x000a,
  server_information = 0x000b,
  operation_error = 0x000c,
  cookie = 0x000d,
  pe_identifier = 0x000e,
  pe_checksum = 0x000f,
  /// poolflow's extension inside an SCTP transport parameter: the UDP
  /// encapsulation port (RFC 6951) of that endpoint, 16 bits and 16 reserved.
  /// Its top bits are 10 ("skip"), so other implementations ignore it; absent,
  /// the port is the well-known 9899. See src/rserpool/README.md.
  udp_encapsulation_port = 0x8001,
  /// rsplib's handle resolution option (draft-dreibholz-rserpool-asap-hropt):
  /// how many elements a pool user wants; "skip" bits, Wireshark decodes it.
  handle_resolution_option = 0x803f,
};

/// What to do with a parameter of an unknown type: its type's top two bits
/// (RFC 5354 §2.1).
enum class UnknownAction : uint8_t { stop = 0, stop_and_report = 1, skip = 2, skip_and_report = 3 };

inline UnknownAction unknown_action(uint16_t type) { return UnknownAction(type >> 14); }

/// Operation error causes (RFC 5354 §3.10).
enum class Cause : uint16_t {
  unspecified = 0,
  unrecognized_parameter = 1,
  unrecognized_message = 2,
  invalid_values = 3,
  non_unique_pe_id = 4,
  inconsistent_policy = 5,
  lack_of_resources = 6,
  inconsistent_transport = 7,
  inconsistent_control = 8,
  unknown_pool_handle = 9,
  rejected_security = 10,
};

const char* cause_name(uint16_t cause);

/// Member selection policies (RFC 5356 §4).
enum class PolicyType : uint32_t {
  round_robin = 0x00000001,
  weighted_round_robin = 0x00000002,
  random = 0x00000003,
  weighted_random = 0x00000004,
  priority = 0x00000005,
  least_used = 0x40000001,
  least_used_degradation = 0x40000002,
  priority_least_used = 0x40000003,
  randomized_least_used = 0x40000004,
};

/// "roundrobin", "weighted-roundrobin"... ; nullptr for an unknown type.
const char* policy_name(uint32_t type);
/// The type of a name policy_name() gives; nullopt for any other text.
std::optional<PolicyType> policy_from_name(const std::string& name);

/// Load as carried on the wire: 0..0xffffffff is 0..100 %.
inline constexpr uint32_t kFullLoad = 0xffffffff;

struct Policy {
  uint32_t type = uint32_t(PolicyType::round_robin);
  uint32_t weight = 0;    ///< weighted policies
  uint32_t priority = 0;  ///< priority
  uint32_t load = 0;      ///< least-used family
  uint32_t load_dpf = 0;  ///< degradation (least used with degradation) or increment
                          ///< (priority least used)
  bool operator==(const Policy&) const = default;
};

/// The policy's value fields on the wire, in order (RFC 5356 §4).
int policy_value_count(uint32_t type);

struct Address {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  ///< IPv4 in the first 4
  bool operator==(const Address&) const = default;
  bool operator<(const Address& o) const { return v6 != o.v6 ? !v6 : bytes < o.bytes; }
  static Address ipv4(uint32_t host_order);
  /// "192.0.2.1" or "2001:db8::1"; nullopt when it is neither.
  static std::optional<Address> parse(const std::string& text);
  /// A socket address's IP address (an IPv4-mapped IPv6 one as IPv4); the
  /// unspecified address for a family other than AF_INET and AF_INET6.
  static Address of(const sockaddr_storage& s);
  std::string text() const;
  bool is_loopback() const;
  bool is_unspecified() const;
};

enum class TransportKind : uint8_t { sctp, tcp, udp, dccp, udp_lite };
const char* transport_name(TransportKind kind);

/// SCTP, TCP, UDP, DCCP or UDP-Lite transport parameter (RFC 5354 §3.3-3.7).
struct Transport {
  TransportKind kind = TransportKind::sctp;
  uint16_t port = 0;
  /// SCTP and TCP: 0 data only, 1 data plus control (RFC 5354 §3.3).
  uint16_t transport_use = 0;
  uint32_t dccp_service_code = 0;
  std::vector<Address> addresses;  ///< SCTP: one or more; the others: exactly one
  /// SCTP only: UDP encapsulation port (the extension parameter); 0 when absent.
  uint16_t udp_encapsulation_port = 0;
  bool operator==(const Transport&) const = default;
};

inline constexpr uint16_t kTransportDataOnly = 0;
inline constexpr uint16_t kTransportDataPlusControl = 1;

/// Pool element parameter (RFC 5354 §3.9).
struct PoolElement {
  uint32_t id = 0;
  uint32_t home_server = 0;  ///< home ENRP server identifier; 0 unknown
  int32_t registration_life_ms = 0;
  Transport user_transport;
  Policy policy;
  std::optional<Transport> asap_transport;
  bool operator==(const PoolElement&) const = default;
};

/// Server information parameter (RFC 5354 §3.10).
struct ServerInfo {
  uint32_t server_id = 0;
  Transport transport;
  bool operator==(const ServerInfo&) const = default;
};

/// One error cause of an operation error parameter.
struct ErrorCause {
  uint16_t code = 0;
  std::vector<uint8_t> info;  ///< cause-specific (e.g. the unrecognized parameter)
  bool operator==(const ErrorCause&) const = default;
};

/// A pool as a handle table response carries it: handle, then its elements.
struct PoolEntry {
  std::string handle;
  std::vector<PoolElement> elements;
  bool operator==(const PoolEntry&) const = default;
};

/// Every field any ASAP or ENRP message has; which ones a message carries, and
/// in which order, is the codec's table (codec.cc). Absent optional fields are
/// not encoded.
struct Message {
  Protocol protocol = Protocol::asap;
  uint8_t type = 0;
  uint8_t flags = 0;

  // ENRP common fields and ASAP server identifier (KEEP_ALIVE, SERVER_ANNOUNCE).
  uint32_t sender = 0;         ///< ENRP sending server; ASAP: server identifier
  uint32_t receiver = 0;       ///< ENRP receiving server
  uint32_t target = 0;         ///< ENRP takeover target
  uint16_t update_action = 0;  ///< ENRP_HANDLE_UPDATE: 0 add PE, 1 delete PE

  std::optional<std::string> pool_handle;
  std::vector<PoolElement> elements;  ///< REGISTRATION (1), resolution responses, BUSINESS_CARD
  std::optional<uint32_t> pe_id;
  std::optional<Policy> overall_policy;  ///< HANDLE_RESOLUTION_RESPONSE, BUSINESS_CARD
  std::vector<ErrorCause> errors;        ///< the operation error parameter, if non-empty
  std::optional<std::vector<uint8_t>> cookie;
  std::vector<Transport> transports;  ///< SERVER_ANNOUNCE
  std::optional<uint16_t> checksum;   ///< ENRP_PRESENCE: handlespace checksum (16 bits)
  /// HANDLE_RESOLUTION: elements wanted (0xffffffff: as many as possible).
  std::optional<uint32_t> resolution_items;
  std::vector<ServerInfo> servers;  ///< PRESENCE (0-1), LIST_RESPONSE
  std::vector<PoolEntry> pools;     ///< HANDLE_TABLE_RESPONSE

  bool operator==(const Message&) const = default;

  static Message asap(AsapType t, uint8_t flags = 0) {
    Message m;
    m.type = uint8_t(t);
    m.flags = flags;
    return m;
  }
  /// ASAP REGISTRATION of `element` in pool `handle`.
  static Message registration(const std::string& handle, const PoolElement& element) {
    Message m = asap(AsapType::registration);
    m.pool_handle = handle;
    m.elements.push_back(element);
    return m;
  }
  static Message enrp(EnrpType t, uint8_t flags = 0) {
    Message m;
    m.protocol = Protocol::enrp;
    m.type = uint8_t(t);
    m.flags = flags;
    return m;
  }
  bool is(AsapType t) const { return protocol == Protocol::asap && type == uint8_t(t); }
  bool is(EnrpType t) const { return protocol == Protocol::enrp && type == uint8_t(t); }
};

/// "REGISTRATION", "ENRP_PRESENCE"... ("ASAP type 0x42" for unknown ones).
std::string message_name(Protocol protocol, uint8_t type);

}  // namespace poolflow::rserpool
