#include "rserpool/codec.h"

#include <arpa/inet.h>

#include <netinet/in.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "poolflow/byte_order.h"

namespace poolflow::rserpool {

namespace {

constexpr size_t kHeader = 4;
constexpr int kMaxDepth = 4;  // pool element > transport > address is 3

size_t padded(size_t n) { return (n + 3) & ~size_t{3}; }

// ---- what each message type carries ------------------------------------

enum Field : uint32_t {
  f_handle = 1 << 0,
  f_element = 1 << 1,   // exactly one pool element
  f_elements = 1 << 2,  // any number
  f_pe_id = 1 << 3,
  f_policy = 1 << 4,  // overall selection policy
  f_error = 1 << 5,
  f_cookie = 1 << 6,
  f_transports = 1 << 7,  // SCTP transports (SERVER_ANNOUNCE)
  f_checksum = 1 << 8,
  f_server = 1 << 9,    // at most one server information
  f_servers = 1 << 10,  // any number
  f_pools = 1 << 11,    // handle, elements, handle, elements...
  f_items = 1 << 12,    // handle resolution option
};

enum Fixed : uint8_t {
  fixed_none,
  fixed_server_id,
  fixed_enrp,
  fixed_enrp_update,
  fixed_enrp_target
};

struct Spec {
  bool known = false;
  Fixed fixed = fixed_none;
  uint32_t allowed = 0;
  uint32_t required = 0;
};

Spec spec_of(Protocol protocol, uint8_t type) {
  if (protocol == Protocol::asap) {
    switch (AsapType(type)) {
      case AsapType::registration:
        return {true, fixed_none, f_handle | f_element, f_handle | f_element};
      case AsapType::deregistration:
      case AsapType::endpoint_keep_alive_ack:
      case AsapType::endpoint_unreachable:
        return {true, fixed_none, f_handle | f_pe_id, f_handle | f_pe_id};
      case AsapType::registration_response:
      case AsapType::deregistration_response:
        return {true, fixed_none, f_handle | f_pe_id | f_error, f_handle | f_pe_id};
      case AsapType::handle_resolution:
        return {true, fixed_none, f_handle | f_items, f_handle};
      case AsapType::handle_resolution_response:
        return {true, fixed_none, f_handle | f_policy | f_elements | f_error, f_handle};
      case AsapType::endpoint_keep_alive:
        return {true, fixed_server_id, f_handle | f_pe_id, f_handle | f_pe_id};
      case AsapType::server_announce:
        return {true, fixed_server_id, f_transports, 0};
      case AsapType::cookie:
      case AsapType::cookie_echo:
        return {true, fixed_none, f_cookie, f_cookie};
      case AsapType::business_card:
        return {true, fixed_none, f_handle | f_policy | f_elements, f_handle | f_elements};
      case AsapType::error:
        return {true, fixed_none, f_error, f_error};
    }
    return {};
  }
  switch (EnrpType(type)) {
    case EnrpType::presence:
      return {true, fixed_enrp, f_checksum | f_server, f_checksum};
    case EnrpType::handle_table_request:
    case EnrpType::list_request:
      return {true, fixed_enrp, 0, 0};
    case EnrpType::handle_table_response:
      return {true, fixed_enrp, f_pools | f_error, 0};
    case EnrpType::handle_update:
      return {true, fixed_enrp_update, f_handle | f_element, f_handle | f_element};
    case EnrpType::list_response:
      return {true, fixed_enrp, f_servers | f_error, 0};
    case EnrpType::init_takeover:
    case EnrpType::init_takeover_ack:
    case EnrpType::takeover_server:
      return {true, fixed_enrp_target, 0, 0};
    case EnrpType::error:
      return {true, fixed_enrp, f_error, f_error};
  }
  return {};
}

size_t fixed_size(Fixed f) {
  switch (f) {
    case fixed_none:
      return 0;
    case fixed_server_id:
      return 4;
    case fixed_enrp:
      return 8;
    case fixed_enrp_update:
    case fixed_enrp_target:
      return 12;
  }
  return 0;
}

// ---- decoding ----------------------------------------------------------

struct Failure {
  DecodeError error;
  std::string detail;
};

std::string hex16(uint16_t v) {
  static const char* digits = "0123456789abcdef";
  std::string s = "0x";
  for (int shift = 12; shift >= 0; shift -= 4) s += digits[(v >> shift) & 0xf];
  return s;
}

[[noreturn]] void fail(DecodeError e, std::string detail) { throw Failure{e, std::move(detail)}; }

struct Param {
  uint16_t type;
  std::span<const uint8_t> value;  // without header or padding
  std::span<const uint8_t> whole;  // header and value, without padding
};

// Walks the parameters in `bytes`; calls `f` for each known one. Unknown types
// are handled by their action bits; `reports` collects those to report.
class ParamWalker {
 public:
  ParamWalker(std::span<const uint8_t> bytes, std::vector<std::vector<uint8_t>>& reports)
      : bytes_(bytes), reports_(reports) {}

  // Next known parameter, or false at the end.
  bool next(Param& p) {
    for (;;) {
      if (offset_ == bytes_.size()) return false;
      if (bytes_.size() - offset_ < 4)
        fail(DecodeError::parameter_too_short, "parameter header cut short");
      const uint16_t type = load_be16(&bytes_[offset_]);
      const uint16_t length = load_be16(&bytes_[offset_ + 2]);
      if (length < 4)
        fail(DecodeError::parameter_too_short,
             "parameter " + hex16(type) + " length " + std::to_string(length));
      if (length > bytes_.size() - offset_)
        fail(DecodeError::parameter_overrun,
             "parameter " + hex16(type) + " length " + std::to_string(length) +
                 " past its container (" + std::to_string(bytes_.size() - offset_) + " left)");
      p.type = type;
      p.whole = bytes_.subspan(offset_, length);
      p.value = p.whole.subspan(4);
      // The last parameter may come without its padding.
      offset_ = std::min(bytes_.size(), offset_ + padded(length));
      if (known(type)) return true;
      switch (unknown_action(type)) {
        case UnknownAction::stop:
          fail(DecodeError::unknown_parameter, "unknown parameter " + hex16(type));
        case UnknownAction::stop_and_report:
          reports_.emplace_back(p.whole.begin(), p.whole.end());
          fail(DecodeError::unknown_parameter, "unknown parameter " + hex16(type));
        case UnknownAction::skip:
          break;
        case UnknownAction::skip_and_report:
          reports_.emplace_back(p.whole.begin(), p.whole.end());
          break;
      }
    }
  }

  static bool known(uint16_t type) {
    return (type >= 0x0001 && type <= 0x000f) ||
           type == uint16_t(ParamType::udp_encapsulation_port) ||
           type == uint16_t(ParamType::handle_resolution_option);
  }

 private:
  std::span<const uint8_t> bytes_;
  std::vector<std::vector<uint8_t>>& reports_;
  size_t offset_ = 0;
};

class Decoder {
 public:
  explicit Decoder(std::vector<std::vector<uint8_t>>& reports) : reports_(reports) {}

  Address address(const Param& p) {
    Address a;
    if (p.type == uint16_t(ParamType::ipv4_address)) {
      if (p.value.size() != 4)
        fail(DecodeError::invalid_value,
             "IPv4 address of " + std::to_string(p.value.size()) + " octets");
      std::copy(p.value.begin(), p.value.end(), a.bytes.begin());
    } else if (p.type == uint16_t(ParamType::ipv6_address)) {
      if (p.value.size() != 16)
        fail(DecodeError::invalid_value,
             "IPv6 address of " + std::to_string(p.value.size()) + " octets");
      a.v6 = true;
      std::copy(p.value.begin(), p.value.end(), a.bytes.begin());
    } else {
      fail(DecodeError::unexpected_parameter,
           "parameter " + hex16(p.type) + " where an address belongs");
    }
    return a;
  }

  static bool is_transport(uint16_t type) {
    return type >= uint16_t(ParamType::dccp_transport) &&
           type <= uint16_t(ParamType::udp_lite_transport);
  }

  Transport transport(const Param& p, int depth) {
    check_depth(depth);
    Transport t;
    size_t fixed = 4;
    switch (ParamType(p.type)) {
      case ParamType::sctp_transport:
        t.kind = TransportKind::sctp;
        break;
      case ParamType::tcp_transport:
        t.kind = TransportKind::tcp;
        break;
      case ParamType::udp_transport:
        t.kind = TransportKind::udp;
        break;
      case ParamType::udp_lite_transport:
        t.kind = TransportKind::udp_lite;
        break;
      case ParamType::dccp_transport:
        t.kind = TransportKind::dccp;
        fixed = 8;
        break;
      default:
        fail(DecodeError::unexpected_parameter,
             "parameter " + hex16(p.type) + " where a transport belongs");
    }
    if (p.value.size() < fixed)
      fail(DecodeError::parameter_too_short,
           std::string(transport_name(t.kind)) + " transport too short");
    t.port = load_be16(&p.value[0]);
    if (t.kind == TransportKind::sctp || t.kind == TransportKind::tcp) {
      t.transport_use = load_be16(&p.value[2]);
      if (t.transport_use > kTransportDataPlusControl)
        fail(DecodeError::invalid_value, "transport use " + std::to_string(t.transport_use));
    }
    if (t.kind == TransportKind::dccp) t.dccp_service_code = load_be32(&p.value[4]);
    ParamWalker walker(p.value.subspan(fixed), reports_);
    Param inner;
    while (walker.next(inner)) {
      if (inner.type == uint16_t(ParamType::udp_encapsulation_port) &&
          t.kind == TransportKind::sctp) {
        if (inner.value.size() != 4)
          fail(DecodeError::invalid_value, "UDP encapsulation port parameter of " +
                                               std::to_string(inner.value.size()) + " octets");
        if (t.udp_encapsulation_port != 0)
          fail(DecodeError::unexpected_parameter, "two UDP encapsulation ports");
        t.udp_encapsulation_port = load_be16(&inner.value[0]);
        if (t.udp_encapsulation_port == 0)
          fail(DecodeError::invalid_value, "UDP encapsulation port 0");
        continue;
      }
      t.addresses.push_back(address(inner));
    }
    if (t.addresses.empty())
      fail(DecodeError::missing_parameter,
           std::string(transport_name(t.kind)) + " transport without an address");
    if (t.kind != TransportKind::sctp && t.addresses.size() != 1)
      fail(DecodeError::invalid_value, std::string(transport_name(t.kind)) + " transport with " +
                                           std::to_string(t.addresses.size()) + " addresses");
    return t;
  }

  Policy policy(const Param& p) {
    if (p.value.size() < 4)
      fail(DecodeError::parameter_too_short, "selection policy without a type");
    Policy pol;
    pol.type = load_be32(&p.value[0]);
    const int count = policy_value_count(pol.type);
    if (count < 0)
      fail(DecodeError::invalid_value, "unknown selection policy " + std::to_string(pol.type));
    if (p.value.size() != 4 + 4 * size_t(count))
      fail(DecodeError::invalid_value, std::string(policy_name(pol.type)) + " policy of " +
                                           std::to_string(p.value.size()) + " octets");
    switch (PolicyType(pol.type)) {
      case PolicyType::weighted_round_robin:
      case PolicyType::weighted_random:
        pol.weight = load_be32(&p.value[4]);
        break;
      case PolicyType::priority:
        pol.priority = load_be32(&p.value[4]);
        break;
      case PolicyType::least_used:
      case PolicyType::randomized_least_used:
        pol.load = load_be32(&p.value[4]);
        break;
      case PolicyType::least_used_degradation:
      case PolicyType::priority_least_used:
        pol.load = load_be32(&p.value[4]);
        pol.load_dpf = load_be32(&p.value[8]);
        break;
      default:
        break;
    }
    return pol;
  }

  PoolElement element(const Param& p, int depth) {
    check_depth(depth);
    if (p.value.size() < 12) fail(DecodeError::parameter_too_short, "pool element too short");
    PoolElement e;
    e.id = load_be32(&p.value[0]);
    e.home_server = load_be32(&p.value[4]);
    e.registration_life_ms = static_cast<int32_t>(load_be32(&p.value[8]));
    ParamWalker walker(p.value.subspan(12), reports_);
    Param inner;
    bool have_user = false, have_policy = false;
    while (walker.next(inner)) {
      if (is_transport(inner.type)) {
        if (!have_user) {
          e.user_transport = transport(inner, depth + 1);
          have_user = true;
        } else if (!e.asap_transport && have_policy) {
          e.asap_transport = transport(inner, depth + 1);
          if (e.asap_transport->kind != TransportKind::sctp)
            fail(DecodeError::invalid_value, "ASAP transport is not SCTP");
        } else {
          fail(DecodeError::unexpected_parameter, "pool element with an extra transport");
        }
      } else if (inner.type == uint16_t(ParamType::selection_policy) && have_user && !have_policy) {
        e.policy = policy(inner);
        have_policy = true;
      } else {
        fail(DecodeError::unexpected_parameter,
             "parameter " + hex16(inner.type) + " inside a pool element");
      }
    }
    if (!have_user || !have_policy)
      fail(DecodeError::missing_parameter,
           have_user ? "pool element without a policy" : "pool element without a user transport");
    return e;
  }

  ServerInfo server(const Param& p, int depth) {
    check_depth(depth);
    if (p.value.size() < 4) fail(DecodeError::parameter_too_short, "server information too short");
    ServerInfo s;
    s.server_id = load_be32(&p.value[0]);
    ParamWalker walker(p.value.subspan(4), reports_);
    Param inner;
    bool have = false;
    while (walker.next(inner)) {
      if (have || inner.type != uint16_t(ParamType::sctp_transport))
        fail(DecodeError::unexpected_parameter,
             "parameter " + hex16(inner.type) + " inside server information");
      s.transport = transport(inner, depth + 1);
      have = true;
    }
    if (!have) fail(DecodeError::missing_parameter, "server information without a transport");
    return s;
  }

  std::vector<ErrorCause> causes(const Param& p) {
    std::vector<ErrorCause> out;
    size_t offset = 0;
    while (offset < p.value.size()) {
      if (p.value.size() - offset < 4)
        fail(DecodeError::parameter_too_short, "error cause header cut short");
      const uint16_t code = load_be16(&p.value[offset]);
      const uint16_t length = load_be16(&p.value[offset + 2]);
      if (length < 4)
        fail(DecodeError::parameter_too_short, "error cause length " + std::to_string(length));
      if (length > p.value.size() - offset)
        fail(DecodeError::parameter_overrun, "error cause past its parameter");
      out.push_back(
          {code, {p.value.begin() + long(offset) + 4, p.value.begin() + long(offset) + length}});
      offset = std::min(p.value.size(), offset + padded(length));
    }
    if (out.empty()) fail(DecodeError::missing_parameter, "operation error without a cause");
    return out;
  }

  static uint32_t u32(const Param& p, const char* what) {
    if (p.value.size() != 4)
      fail(DecodeError::invalid_value,
           std::string(what) + " of " + std::to_string(p.value.size()) + " octets");
    return load_be32(p.value.data());
  }

  void check_depth(int depth) {
    if (depth > kMaxDepth) fail(DecodeError::nesting_too_deep, "parameters nested too deep");
  }

 private:
  std::vector<std::vector<uint8_t>>& reports_;
};

uint32_t field_of(uint16_t type, const Spec& spec) {
  switch (ParamType(type)) {
    case ParamType::pool_handle:
      return (spec.allowed & f_pools) ? f_pools : f_handle;
    case ParamType::pool_element:
      if (spec.allowed & f_pools) return f_pools;
      return (spec.allowed & f_element) ? f_element : f_elements;
    case ParamType::pe_identifier:
      return f_pe_id;
    case ParamType::selection_policy:
      return f_policy;
    case ParamType::operation_error:
      return f_error;
    case ParamType::cookie:
      return f_cookie;
    case ParamType::sctp_transport:
    case ParamType::tcp_transport:
    case ParamType::udp_transport:
    case ParamType::dccp_transport:
    case ParamType::udp_lite_transport:
      return f_transports;
    case ParamType::handle_resolution_option:
      return f_items;
    case ParamType::pe_checksum:
      return f_checksum;
    case ParamType::server_information:
      return (spec.allowed & f_servers) ? f_servers : f_server;
    default:
      return 0;
  }
}

void decode_body(Protocol protocol, std::span<const uint8_t> bytes, DecodeResult& r) {
  Message& m = r.message;
  m.protocol = protocol;
  m.type = bytes[0];
  m.flags = bytes[1];
  const Spec spec = spec_of(protocol, m.type);
  if (!spec.known) fail(DecodeError::unknown_message, message_name(protocol, m.type));
  const size_t fixed = fixed_size(spec.fixed);
  if (bytes.size() < kHeader + fixed)
    fail(DecodeError::too_short, message_name(protocol, m.type) + " too short");
  const uint8_t* f = &bytes[kHeader];
  switch (spec.fixed) {
    case fixed_none:
      break;
    case fixed_server_id:
      m.sender = load_be32(f);
      break;
    case fixed_enrp_update:
    case fixed_enrp_target:
    case fixed_enrp:
      m.sender = load_be32(f);
      m.receiver = load_be32(f + 4);
      if (spec.fixed == fixed_enrp_update) {
        m.update_action = load_be16(f + 8);
        if (m.update_action > 1)
          fail(DecodeError::invalid_value, "update action " + std::to_string(m.update_action));
      }
      if (spec.fixed == fixed_enrp_target) m.target = load_be32(f + 8);
      break;
  }

  Decoder d(r.to_report);
  ParamWalker walker(bytes.subspan(kHeader + fixed), r.to_report);
  Param p;
  uint32_t seen = 0;
  while (walker.next(p)) {
    const uint32_t field = field_of(p.type, spec);
    if (field == 0 || !(spec.allowed & field))
      fail(DecodeError::unexpected_parameter,
           "parameter " + hex16(p.type) + " in " + message_name(protocol, m.type));
    const bool repeatable =
        field == f_elements || field == f_transports || field == f_servers || field == f_pools;
    if ((seen & field) && !repeatable)
      fail(DecodeError::unexpected_parameter, "parameter " + hex16(p.type) + " twice");
    seen |= field;
    switch (ParamType(p.type)) {
      case ParamType::pool_handle:
        if (p.value.empty()) fail(DecodeError::invalid_value, "empty pool handle");
        if (field == f_pools)
          m.pools.push_back({std::string(p.value.begin(), p.value.end()), {}});
        else
          m.pool_handle = std::string(p.value.begin(), p.value.end());
        break;
      case ParamType::pool_element:
        if (field == f_pools) {
          if (m.pools.empty())
            fail(DecodeError::invalid_value, "pool element before any pool handle");
          m.pools.back().elements.push_back(d.element(p, 1));
        } else {
          m.elements.push_back(d.element(p, 1));
        }
        break;
      case ParamType::pe_identifier:
        m.pe_id = Decoder::u32(p, "PE identifier");
        break;
      case ParamType::selection_policy:
        m.overall_policy = d.policy(p);
        break;
      case ParamType::operation_error:
        m.errors = d.causes(p);
        break;
      case ParamType::cookie:
        m.cookie = std::vector<uint8_t>(p.value.begin(), p.value.end());
        break;
      case ParamType::sctp_transport:
      case ParamType::tcp_transport:
      case ParamType::udp_transport:
      case ParamType::dccp_transport:
      case ParamType::udp_lite_transport:
        m.transports.push_back(d.transport(p, 1));
        break;
      case ParamType::handle_resolution_option:
        m.resolution_items = Decoder::u32(p, "handle resolution option");
        break;
      case ParamType::pe_checksum:
        if (p.value.size() != 2)
          fail(DecodeError::invalid_value,
               "PE checksum of " + std::to_string(p.value.size()) + " octets");
        m.checksum = load_be16(p.value.data());
        break;
      case ParamType::server_information:
        m.servers.push_back(d.server(p, 1));
        break;
      default:
        break;
    }
  }
  const uint32_t missing = spec.required & ~seen;
  if (missing != 0) {
    const char* what = (missing & f_handle)     ? "pool handle"
                       : (missing & f_element)  ? "pool element"
                       : (missing & f_elements) ? "pool element"
                       : (missing & f_pe_id)    ? "PE identifier"
                       : (missing & f_error)    ? "operation error"
                       : (missing & f_cookie)   ? "cookie"
                                                : "PE checksum";
    fail(DecodeError::missing_parameter, message_name(protocol, m.type) + " without a " + what);
  }
}

// ---- encoding ----------------------------------------------------------

class Writer {
 public:
  explicit Writer(std::vector<uint8_t>& out) : out_(out) {}

  size_t begin(uint16_t type) {
    const size_t start = out_.size();
    u16(type);
    u16(0);
    return start;
  }
  void end(size_t start) {
    const size_t length = out_.size() - start;
    if (length > 0xffff) throw std::length_error("RSerPool parameter longer than 65535 octets");
    store_be16(&out_[start + 2], static_cast<uint16_t>(length));
    out_.resize(start + padded(length), 0);
  }
  void u16(uint16_t v) {
    out_.resize(out_.size() + 2);
    store_be16(&out_[out_.size() - 2], v);
  }
  void u32(uint32_t v) {
    out_.resize(out_.size() + 4);
    store_be32(&out_[out_.size() - 4], v);
  }
  void bytes(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }

  void address(const Address& a) {
    const size_t p = begin(uint16_t(a.v6 ? ParamType::ipv6_address : ParamType::ipv4_address));
    bytes({a.bytes.data(), a.v6 ? size_t{16} : size_t{4}});
    end(p);
  }

  void transport(const Transport& t) {
    static constexpr ParamType kTypes[] = {ParamType::sctp_transport, ParamType::tcp_transport,
                                           ParamType::udp_transport, ParamType::dccp_transport,
                                           ParamType::udp_lite_transport};
    const size_t p = begin(uint16_t(kTypes[size_t(t.kind)]));
    u16(t.port);
    const bool has_use = t.kind == TransportKind::sctp || t.kind == TransportKind::tcp;
    u16(has_use ? t.transport_use : 0);
    if (t.kind == TransportKind::dccp) u32(t.dccp_service_code);
    for (const Address& a : t.addresses) address(a);
    if (t.kind == TransportKind::sctp && t.udp_encapsulation_port != 0) {
      const size_t e = begin(uint16_t(ParamType::udp_encapsulation_port));
      u16(t.udp_encapsulation_port);
      u16(0);
      end(e);
    }
    end(p);
  }

  void policy(const Policy& pol) {
    const size_t p = begin(uint16_t(ParamType::selection_policy));
    u32(pol.type);
    switch (PolicyType(pol.type)) {
      case PolicyType::weighted_round_robin:
      case PolicyType::weighted_random:
        u32(pol.weight);
        break;
      case PolicyType::priority:
        u32(pol.priority);
        break;
      case PolicyType::least_used:
      case PolicyType::randomized_least_used:
        u32(pol.load);
        break;
      case PolicyType::least_used_degradation:
      case PolicyType::priority_least_used:
        u32(pol.load);
        u32(pol.load_dpf);
        break;
      default:
        break;
    }
    end(p);
  }

  void element(const PoolElement& e) {
    const size_t p = begin(uint16_t(ParamType::pool_element));
    u32(e.id);
    u32(e.home_server);
    u32(static_cast<uint32_t>(e.registration_life_ms));
    transport(e.user_transport);
    policy(e.policy);
    if (e.asap_transport) transport(*e.asap_transport);
    end(p);
  }

  void handle(const std::string& h) {
    const size_t p = begin(uint16_t(ParamType::pool_handle));
    bytes({reinterpret_cast<const uint8_t*>(h.data()), h.size()});
    end(p);
  }

  void u32_param(ParamType type, uint32_t v) {
    const size_t p = begin(uint16_t(type));
    u32(v);
    end(p);
  }

  void errors(const std::vector<ErrorCause>& causes) {
    const size_t p = begin(uint16_t(ParamType::operation_error));
    for (const ErrorCause& c : causes) {
      const size_t start = out_.size();
      u16(c.code);
      u16(0);
      bytes(c.info);
      const size_t length = out_.size() - start;
      if (length > 0xffff) throw std::length_error("error cause longer than 65535 octets");
      store_be16(&out_[start + 2], static_cast<uint16_t>(length));
      out_.resize(start + padded(length), 0);
    }
    end(p);
  }

  void server(const ServerInfo& s) {
    const size_t p = begin(uint16_t(ParamType::server_information));
    u32(s.server_id);
    transport(s.transport);
    end(p);
  }

 private:
  std::vector<uint8_t>& out_;
};

}  // namespace

const char* decode_error_name(DecodeError e) {
  static const char* const kNames[kDecodeErrorCount] = {"none",
                                                        "too_short",
                                                        "length_mismatch",
                                                        "too_long",
                                                        "unknown_message",
                                                        "parameter_too_short",
                                                        "parameter_overrun",
                                                        "nesting_too_deep",
                                                        "invalid_value",
                                                        "missing_parameter",
                                                        "unexpected_parameter",
                                                        "unknown_parameter"};
  return kNames[size_t(e)];
}

Cause cause_for(DecodeError e) {
  switch (e) {
    case DecodeError::unknown_message:
      return Cause::unrecognized_message;
    case DecodeError::unknown_parameter:
      return Cause::unrecognized_parameter;
    case DecodeError::too_long:
      return Cause::lack_of_resources;
    default:
      return Cause::invalid_values;
  }
}

DecodeResult decode(Protocol protocol, std::span<const uint8_t> bytes, size_t max_size) {
  DecodeResult r;
  try {
    if (bytes.size() < kHeader)
      fail(DecodeError::too_short, std::to_string(bytes.size()) + " octets");
    if (bytes.size() > max_size)
      fail(DecodeError::too_long,
           std::to_string(bytes.size()) + " octets, limit " + std::to_string(max_size));
    const uint16_t length = load_be16(&bytes[2]);
    // The sender may leave out the last parameter's padding from the length.
    if (length < kHeader || length > bytes.size() || padded(length) < bytes.size())
      fail(DecodeError::length_mismatch, "header says " + std::to_string(length) + " octets, " +
                                             std::to_string(bytes.size()) + " received");
    decode_body(protocol, bytes.first(length), r);
  } catch (const Failure& f) {
    r.error = f.error;
    r.detail = f.detail;
    r.message = Message{};
  }
  return r;
}

void encode(const Message& m, std::vector<uint8_t>& out) {
  const Spec spec = spec_of(m.protocol, m.type);
  if (!spec.known) throw std::invalid_argument("encode: " + message_name(m.protocol, m.type));
  const size_t start = out.size();
  Writer w(out);
  out.push_back(m.type);
  out.push_back(m.flags);
  w.u16(0);
  switch (spec.fixed) {
    case fixed_none:
      break;
    case fixed_server_id:
      w.u32(m.sender);
      break;
    case fixed_enrp:
    case fixed_enrp_update:
    case fixed_enrp_target:
      w.u32(m.sender);
      w.u32(m.receiver);
      if (spec.fixed == fixed_enrp_update) {
        w.u16(m.update_action);
        w.u16(0);
      }
      if (spec.fixed == fixed_enrp_target) w.u32(m.target);
      break;
  }
  const uint32_t a = spec.allowed;
  if (m.checksum && (a & f_checksum)) {
    const size_t p = w.begin(uint16_t(ParamType::pe_checksum));
    w.u16(*m.checksum);
    w.end(p);
  }
  if (a & (f_server | f_servers))
    for (const ServerInfo& s : m.servers) w.server(s);
  if (m.pool_handle && (a & f_handle)) w.handle(*m.pool_handle);
  if (m.resolution_items && (a & f_items))
    w.u32_param(ParamType::handle_resolution_option, *m.resolution_items);
  if (m.overall_policy && (a & f_policy)) w.policy(*m.overall_policy);
  if (a & (f_element | f_elements))
    for (const PoolElement& e : m.elements) w.element(e);
  if (m.pe_id && (a & f_pe_id)) w.u32_param(ParamType::pe_identifier, *m.pe_id);
  if (m.cookie && (a & f_cookie)) {
    const size_t p = w.begin(uint16_t(ParamType::cookie));
    w.bytes(*m.cookie);
    w.end(p);
  }
  if (a & f_transports)
    for (const Transport& t : m.transports) w.transport(t);
  if (a & f_pools)
    for (const PoolEntry& pool : m.pools) {
      w.handle(pool.handle);
      for (const PoolElement& e : pool.elements) w.element(e);
    }
  if (!m.errors.empty() && (a & f_error)) w.errors(m.errors);
  const size_t length = out.size() - start;
  if (length > 0xffff) {
    out.resize(start);
    throw std::length_error("RSerPool message longer than 65535 octets");
  }
  store_be16(&out[start + 2], static_cast<uint16_t>(length));
}

std::vector<uint8_t> encode(const Message& message) {
  std::vector<uint8_t> out;
  encode(message, out);
  return out;
}

std::vector<uint8_t> encode_parameter(const PoolElement& element) {
  std::vector<uint8_t> out;
  Writer(out).element(element);
  return out;
}

std::vector<uint8_t> encode_parameter(const Transport& transport) {
  std::vector<uint8_t> out;
  Writer(out).transport(transport);
  return out;
}

std::vector<uint8_t> encode_parameter(const Policy& policy) {
  std::vector<uint8_t> out;
  Writer(out).policy(policy);
  return out;
}

std::vector<uint8_t> encode_handle_parameter(const std::string& handle) {
  std::vector<uint8_t> out;
  Writer(out).handle(handle);
  return out;
}

ErrorCause make_cause(Cause code, std::span<const uint8_t> bytes) {
  return {uint16_t(code), {bytes.begin(), bytes.end()}};
}

// ---- names and small helpers -------------------------------------------

const char* cause_name(uint16_t cause) {
  static const char* const kNames[] = {"unspecified error",
                                       "unrecognized parameter",
                                       "unrecognized message",
                                       "invalid values",
                                       "non-unique PE identifier",
                                       "inconsistent pooling policy",
                                       "lack of resources",
                                       "inconsistent transport type",
                                       "inconsistent data/control configuration",
                                       "unknown pool handle",
                                       "rejected due to security considerations"};
  return cause < std::size(kNames) ? kNames[cause] : "unknown cause";
}

const char* policy_name(uint32_t type) {
  switch (PolicyType(type)) {
    case PolicyType::round_robin:
      return "roundrobin";
    case PolicyType::weighted_round_robin:
      return "weighted-roundrobin";
    case PolicyType::random:
      return "random";
    case PolicyType::weighted_random:
      return "weighted-random";
    case PolicyType::priority:
      return "priority";
    case PolicyType::least_used:
      return "leastused";
    case PolicyType::least_used_degradation:
      return "leastused-degradation";
    case PolicyType::priority_least_used:
      return "priority-leastused";
    case PolicyType::randomized_least_used:
      return "randomized-leastused";
  }
  return nullptr;
}

std::optional<PolicyType> policy_from_name(const std::string& name) {
  for (const PolicyType t : {PolicyType::round_robin, PolicyType::weighted_round_robin,
                             PolicyType::random, PolicyType::weighted_random, PolicyType::priority,
                             PolicyType::least_used, PolicyType::least_used_degradation,
                             PolicyType::priority_least_used, PolicyType::randomized_least_used})
    if (name == policy_name(uint32_t(t))) return t;
  return std::nullopt;
}

int policy_value_count(uint32_t type) {
  switch (PolicyType(type)) {
    case PolicyType::round_robin:
    case PolicyType::random:
      return 0;
    case PolicyType::weighted_round_robin:
    case PolicyType::weighted_random:
    case PolicyType::priority:
    case PolicyType::least_used:
    case PolicyType::randomized_least_used:
      return 1;
    case PolicyType::least_used_degradation:
    case PolicyType::priority_least_used:
      return 2;
  }
  return -1;
}

const char* transport_name(TransportKind kind) {
  static const char* const kNames[] = {"sctp", "tcp", "udp", "dccp", "udplite"};
  return kNames[size_t(kind)];
}

Address Address::ipv4(uint32_t host_order) {
  Address a;
  store_be32(a.bytes.data(), host_order);
  return a;
}

std::optional<Address> Address::parse(const std::string& text) {
  Address a;
  std::string t = text;
  if (t.size() > 2 && t.front() == '[' && t.back() == ']') t = t.substr(1, t.size() - 2);
  if (inet_pton(AF_INET, t.c_str(), a.bytes.data()) == 1) return a;
  if (inet_pton(AF_INET6, t.c_str(), a.bytes.data()) == 1) {
    a.v6 = true;
    return a;
  }
  return std::nullopt;
}

Address Address::of(const sockaddr_storage& s) {
  Address a;
  if (s.ss_family == AF_INET6) {
    a.v6 = true;
    std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in6&>(s).sin6_addr, 16);
    // An IPv4 peer on a dual-stack socket is an IPv4 peer.
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a.bytes.data(), kMapped, 12) == 0) {
      a.v6 = false;
      std::memmove(a.bytes.data(), a.bytes.data() + 12, 4);
      std::fill(a.bytes.begin() + 4, a.bytes.end(), 0);
    }
  } else if (s.ss_family == AF_INET) {
    std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in&>(s).sin_addr, 4);
  }
  return a;
}

std::string Address::text() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buffer, sizeof buffer);
  return buffer;
}

bool Address::is_loopback() const {
  if (!v6) return bytes[0] == 127;
  static constexpr std::array<uint8_t, 16> kLoopback{0, 0, 0, 0, 0, 0, 0, 0,
                                                     0, 0, 0, 0, 0, 0, 0, 1};
  return bytes == kLoopback;
}

bool Address::is_unspecified() const {
  const size_t n = v6 ? 16 : 4;
  for (size_t i = 0; i < n; ++i)
    if (bytes[i] != 0) return false;
  return true;
}

std::string message_name(Protocol protocol, uint8_t type) {
  static const char* const kAsap[] = {"REGISTRATION",
                                      "DEREGISTRATION",
                                      "REGISTRATION_RESPONSE",
                                      "DEREGISTRATION_RESPONSE",
                                      "HANDLE_RESOLUTION",
                                      "HANDLE_RESOLUTION_RESPONSE",
                                      "ENDPOINT_KEEP_ALIVE",
                                      "ENDPOINT_KEEP_ALIVE_ACK",
                                      "ENDPOINT_UNREACHABLE",
                                      "SERVER_ANNOUNCE",
                                      "COOKIE",
                                      "COOKIE_ECHO",
                                      "BUSINESS_CARD",
                                      "ERROR"};
  static const char* const kEnrp[] = {
      "ENRP_PRESENCE",      "ENRP_HANDLE_TABLE_REQUEST", "ENRP_HANDLE_TABLE_RESPONSE",
      "ENRP_HANDLE_UPDATE", "ENRP_LIST_REQUEST",         "ENRP_LIST_RESPONSE",
      "ENRP_INIT_TAKEOVER", "ENRP_INIT_TAKEOVER_ACK",    "ENRP_TAKEOVER_SERVER",
      "ENRP_ERROR"};
  if (protocol == Protocol::asap && type >= 1 && type <= std::size(kAsap)) return kAsap[type - 1];
  if (protocol == Protocol::enrp && type >= 1 && type <= std::size(kEnrp)) return kEnrp[type - 1];
  char text[24];
  std::snprintf(text, sizeof text, "%s type 0x%02x", protocol == Protocol::asap ? "ASAP" : "ENRP",
                type);
  return text;
}

}  // namespace poolflow::rserpool
