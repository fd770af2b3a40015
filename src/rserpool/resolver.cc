#include "rserpool/resolver.h"

#include <fmt/format.h>

#include "rserpool/codec.h"

namespace poolflow::rserpool {

Message HandleResolver::start(const std::string& handle, uint32_t items, uint64_t now_ms) {
  request_ = Message::asap(AsapType::handle_resolution);
  request_.pool_handle = handle;
  if (items != 0) request_.resolution_items = items;
  status_ = Status::waiting;
  tries_ = 1;
  deadline_ms_ = now_ms + timeout_ms_;
  elements_.clear();
  overall_policy_.reset();
  errors_.clear();
  return request_;
}

void HandleResolver::received(std::span<const uint8_t> bytes) {
  const DecodeResult r = decode(Protocol::asap, bytes);
  if (status_ != Status::waiting || !r.ok() ||
      !r.message.is(AsapType::handle_resolution_response) ||
      r.message.pool_handle != request_.pool_handle) {
    ++ignored_;
    return;
  }
  elements_ = r.message.elements;
  overall_policy_ = r.message.overall_policy;
  errors_ = r.message.errors;
  status_ = errors_.empty() ? Status::resolved : Status::refused;
}

std::optional<Message> HandleResolver::advance(uint64_t now_ms) {
  if (status_ != Status::waiting || now_ms < deadline_ms_) return std::nullopt;
  if (tries_ > retransmits_) {
    status_ = Status::timed_out;
    return std::nullopt;
  }
  ++tries_;
  deadline_ms_ = now_ms + timeout_ms_;
  return request_;
}

std::string describe(const PoolElement& e) {
  const Transport& t = e.user_transport;
  const Address& a = t.addresses.front();
  const char* policy = policy_name(e.policy.type);
  // A UDP encapsulation port other than the well-known one follows the port,
  // as in registrar addresses: sctp:HOST:PORT/UDPPORT.
  const std::string encaps =
      t.udp_encapsulation_port != 0 && t.udp_encapsulation_port != kSctpUdpEncapsPort
          ? fmt::format("/{}", t.udp_encapsulation_port)
          : "";
  return fmt::format("{:08x} {}:{}:{}{} policy={} load={:.1f}", e.id, transport_name(t.kind),
                     a.v6 ? "[" + a.text() + "]" : a.text(), t.port, encaps,
                     policy ? policy : "unknown",
                     100.0 * double(e.policy.load) / double(kFullLoad));
}

}  // namespace poolflow::rserpool
