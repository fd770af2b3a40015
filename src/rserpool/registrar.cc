#include "rserpool/registrar.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

namespace poolflow::rserpool {

namespace {

// ENDPOINT_UNREACHABLE needs no answer; the other requests get one.
Message response_to(const Message& m, AsapType type) {
  Message r = Message::asap(type);
  r.pool_handle = m.pool_handle;
  r.pe_id = m.pe_id;
  return r;
}

std::string printable(const std::string& handle) {
  std::string out;
  for (const unsigned char c : handle)
    out += (c >= 0x20 && c < 0x7f) ? std::string(1, char(c)) : fmt::format("\\x{:02x}", c);
  return out;
}

bool same_endpoint(const Transport& a, const Transport& b) {
  return a.kind == b.kind && a.port == b.port && a.addresses == b.addresses;
}

}  // namespace

Registrar::Registrar(RegistrarConfig config, uint64_t seed) : config_(config), rng_(seed) {}

bool Registrar::association_up(uint64_t association, const Address& peer, uint64_t) {
  uint32_t& count = associations_per_peer_[peer];
  if (count >= config_.max_associations_per_peer) {
    ++stats_.associations_refused;
    spdlog::warn("registrar: refusing an ASAP association from {}: {} already", peer.text(), count);
    return false;
  }
  ++count;
  associations_[association] = {peer, 0};
  return true;
}

void Registrar::association_down(uint64_t association, uint64_t) {
  const auto a = associations_.find(association);
  if (a == associations_.end()) return;
  if (auto c = associations_per_peer_.find(a->second.peer);
      c != associations_per_peer_.end() && --c->second == 0)
    associations_per_peer_.erase(c);
  associations_.erase(a);
  std::vector<std::pair<std::string, uint32_t>> gone;
  for (const auto& [handle, pool] : pools_)
    for (const auto& [id, e] : pool.elements)
      if (e.association == association) gone.emplace_back(handle, id);
  for (const auto& [handle, id] : gone)
    remove(handle, id, stats_.removed_association, "its ASAP association was lost");
}

void Registrar::received(uint64_t association, std::span<const uint8_t> bytes, uint64_t now_ms) {
  ++stats_.messages;
  DecodeResult r = decode(Protocol::asap, bytes, config_.max_message_size);
  if (!r.to_report.empty()) {
    Message error = Message::asap(AsapType::error);
    for (const auto& p : r.to_report)
      error.errors.push_back(make_cause(Cause::unrecognized_parameter, p));
    stats_.unknown_parameters_reported += r.to_report.size();
    send(association, std::move(error));
  }
  if (!r.ok()) {
    ++stats_.malformed;
    ++stats_.malformed_by_error[size_t(r.error)];
    if (stats_.malformed_by_error[size_t(r.error)] == 1 || spdlog::should_log(spdlog::level::debug))
      spdlog::warn("registrar: association {}: {}: {}", association, decode_error_name(r.error),
                   r.detail);
    // An operation error only where its cause can be stated well-formed:
    // cause 2 carries the header of the message not understood, cause 6 says
    // it is too long. Cause 3 would carry the offending parameter, and a
    // message that does not parse has none to show: it is dropped (counted).
    const Cause cause = cause_for(r.error);
    if (cause == Cause::unrecognized_message || cause == Cause::lack_of_resources) {
      Message error = Message::asap(AsapType::error);
      error.errors.push_back(make_cause(cause, cause == Cause::unrecognized_message
                                                   ? bytes.first(std::min<size_t>(bytes.size(), 4))
                                                   : std::span<const uint8_t>{}));
      send(association, std::move(error));
    }
    if (auto a = associations_.find(association);
        a != associations_.end() && ++a->second.bad_messages >= config_.max_bad_messages) {
      ++stats_.associations_aborted;
      spdlog::warn("registrar: aborting association {} from {}: {} malformed messages", association,
                   a->second.peer.text(), a->second.bad_messages);
      outgoing_.push_back({association, {}, true});
      association_down(association, now_ms);
    }
    return;
  }
  handle(association, r.message, now_ms);
}

void Registrar::handle(uint64_t association, const Message& m, uint64_t now_ms) {
  if (m.protocol == Protocol::asap) switch (AsapType(m.type)) {
      case AsapType::registration:
        return on_registration(association, m, now_ms);
      case AsapType::deregistration:
        return on_deregistration(association, m);
      case AsapType::handle_resolution:
        return on_resolution(association, m);
      case AsapType::endpoint_keep_alive_ack:
        return on_keep_alive_ack(association, m, now_ms);
      case AsapType::endpoint_unreachable:
        return on_unreachable(m);
      default:
        break;
    }
  ++stats_.unexpected;
  spdlog::debug("registrar: association {}: ignoring {}", association,
                message_name(m.protocol, m.type));
}

std::optional<Registrar::Rejection> Registrar::check_registration(uint64_t association,
                                                                  const std::string& handle,
                                                                  const PoolElement& pe, Pool* pool,
                                                                  const Element* existing) const {
  // Causes 3, 5, 7 and 8 carry the parameter they object to (RFC 5354 §3.10).
  if (handle.size() > config_.max_handle_length)
    return Rejection{Cause::invalid_values, encode_handle_parameter(handle)};
  if (pe.id == 0 || pe.registration_life_ms < config_.min_registration_life_ms ||
      pe.registration_life_ms > config_.max_registration_life_ms)
    return Rejection{Cause::invalid_values, encode_parameter(pe)};
  // Address scope (RFC 5352 §3.1): nothing a pool user elsewhere could not reach.
  auto reachable = [&](const Transport& t) {
    for (const Address& a : t.addresses)
      if (a.is_unspecified() || (a.is_loopback() && !config_.allow_loopback) ||
          (!a.v6 && a.bytes[0] >= 224) || (a.v6 && a.bytes[0] == 0xff))
        return false;
    return t.port != 0;
  };
  if (!reachable(pe.user_transport))
    return Rejection{Cause::invalid_values, encode_parameter(pe.user_transport)};
  if (pe.asap_transport && !reachable(*pe.asap_transport))
    return Rejection{Cause::invalid_values, encode_parameter(*pe.asap_transport)};
  if (pool != nullptr) {
    if (pool->policy != pe.policy.type)
      return Rejection{Cause::inconsistent_policy, encode_parameter(pe.policy)};
    if (pool->transport != pe.user_transport.kind)
      return Rejection{Cause::inconsistent_transport, encode_parameter(pe.user_transport)};
    if (pool->transport_use != pe.user_transport.transport_use)
      return Rejection{Cause::inconsistent_control, encode_parameter(pe.user_transport)};
  }
  if (existing != nullptr && existing->association != association &&
      !same_endpoint(existing->pe.user_transport, pe.user_transport))
    return Rejection{Cause::non_unique_pe_id, {}};
  const auto a = associations_.find(association);
  const Address peer = a == associations_.end() ? Address{} : a->second.peer;
  if (existing == nullptr) {
    if (pool == nullptr && pools_.size() >= config_.max_pools)
      return Rejection{Cause::lack_of_resources, {}};
    if (pool != nullptr && pool->elements.size() >= config_.max_elements_per_pool)
      return Rejection{Cause::lack_of_resources, {}};
    const auto n = elements_per_peer_.find(peer);
    if (n != elements_per_peer_.end() && n->second >= config_.max_elements_per_peer)
      return Rejection{Cause::lack_of_resources, {}};
  }
  return std::nullopt;
}

void Registrar::reject_registration(uint64_t association, const Message& m, Cause cause,
                                    std::span<const uint8_t> info) {
  ++stats_.registrations_rejected;
  ++stats_.rejects_by_cause[size_t(cause)];
  Message r = Message::asap(AsapType::registration_response, kFlagReject);
  r.pool_handle = m.pool_handle;
  r.pe_id = m.elements.front().id;
  r.errors.push_back(make_cause(cause, info));
  if (stats_.rejects_by_cause[size_t(cause)] == 1 || spdlog::should_log(spdlog::level::debug))
    spdlog::warn("registrar: rejecting PE {:08x} in pool {}: {}", m.elements.front().id,
                 printable(*m.pool_handle), cause_name(uint16_t(cause)));
  send(association, std::move(r));
}

void Registrar::on_registration(uint64_t association, const Message& m, uint64_t now_ms) {
  const std::string& handle = *m.pool_handle;
  const PoolElement& pe = m.elements.front();
  const auto p = pools_.find(handle);
  Pool* pool = p == pools_.end() ? nullptr : &p->second;
  Element* existing = nullptr;
  if (pool != nullptr)
    if (auto e = pool->elements.find(pe.id); e != pool->elements.end()) existing = &e->second;
  // An element alone in its pool may change the pool's policy or transport.
  Pool* constraints =
      (pool != nullptr && existing != nullptr && pool->elements.size() == 1) ? nullptr : pool;
  if (const auto rejection = check_registration(association, handle, pe, constraints, existing))
    return reject_registration(association, m, rejection->cause, rejection->info);
  const auto a = associations_.find(association);
  const Address peer = a == associations_.end() ? Address{} : a->second.peer;
  if (pool == nullptr) {
    pool = &pools_[handle];
    spdlog::info("registrar: new pool {} ({}, {})", printable(handle), policy_name(pe.policy.type),
                 transport_name(pe.user_transport.kind));
  }
  pool->policy = pe.policy.type;
  pool->transport = pe.user_transport.kind;
  pool->transport_use = pe.user_transport.transport_use;
  Element* e = existing;
  if (e == nullptr) {
    e = &pool->elements[pe.id];
    ++elements_;
    ++elements_per_peer_[peer];
    ++stats_.registrations;
    e->registered_ms = now_ms;
    spdlog::info("registrar: PE {:08x} registered in pool {}: {}:{}:{}", pe.id, printable(handle),
                 transport_name(pe.user_transport.kind), pe.user_transport.addresses.front().text(),
                 pe.user_transport.port);
  } else {
    ++stats_.reregistrations;
    if (e->peer != peer) {
      if (auto n = elements_per_peer_.find(e->peer);
          n != elements_per_peer_.end() && --n->second == 0)
        elements_per_peer_.erase(n);
      ++elements_per_peer_[peer];
    }
  }
  e->pe = pe;
  e->pe.home_server = config_.server_id;
  e->association = association;
  e->peer = peer;
  e->expires_ms = now_ms + uint64_t(pe.registration_life_ms);
  e->unreachable_reports = 0;
  e->selected_since_update = 0;
  e->keep_alive_deadline_ms = 0;
  e->next_keep_alive_ms = now_ms + config_.keep_alive_interval_ms;
  schedule(handle, *e);

  Message r = Message::asap(AsapType::registration_response);
  r.pool_handle = handle;
  r.pe_id = pe.id;
  send(association, std::move(r));
}

void Registrar::on_deregistration(uint64_t association, const Message& m) {
  Message r = response_to(m, AsapType::deregistration_response);
  const auto p = pools_.find(*m.pool_handle);
  if (p == pools_.end()) {
    r.errors.push_back(make_cause(Cause::unknown_pool_handle));
    return send(association, std::move(r));
  }
  const auto e = p->second.elements.find(*m.pe_id);
  if (e != p->second.elements.end()) {
    const auto a = associations_.find(association);
    // Only the element itself may take its registration back.
    if (e->second.association != association &&
        (a == associations_.end() || a->second.peer != e->second.peer)) {
      r.errors.push_back(make_cause(Cause::rejected_security));
      return send(association, std::move(r));
    }
    remove(*m.pool_handle, *m.pe_id, stats_.deregistrations, "deregistered");
  }
  send(association, std::move(r));
}

std::vector<PoolElement> Registrar::ordered(Pool& pool, uint32_t max_items) {
  std::vector<Candidate> candidates;
  std::vector<Element*> elements;
  candidates.reserve(pool.elements.size());
  elements.reserve(pool.elements.size());
  for (auto& [id, e] : pool.elements) {
    candidates.push_back({id, e.pe.policy, e.selected_since_update});
    elements.push_back(&e);
  }
  const std::vector<size_t> order =
      select(candidates, PolicyType(pool.policy), pool.selection, rng_, max_items);
  std::vector<PoolElement> out;
  out.reserve(order.size());
  for (const size_t i : order) out.push_back(elements[i]->pe);
  // Least used with degradation: the first one's load counts as raised until
  // it reports its load again (RFC 5356 §4.2.2).
  if (!order.empty()) ++elements[order.front()]->selected_since_update;
  return out;
}

std::vector<PoolElement> Registrar::resolve(const std::string& handle) {
  const auto p = pools_.find(handle);
  return p == pools_.end() ? std::vector<PoolElement>{}
                           : ordered(p->second, config_.max_resolution_items);
}

void Registrar::on_resolution(uint64_t association, const Message& m) {
  ++stats_.resolutions;
  Message r = Message::asap(AsapType::handle_resolution_response);
  r.pool_handle = m.pool_handle;
  const auto p = pools_.find(*m.pool_handle);
  if (p == pools_.end()) {
    ++stats_.resolutions_unknown_pool;
    r.errors.push_back(make_cause(Cause::unknown_pool_handle));
    return send(association, std::move(r));
  }
  Policy overall;
  overall.type = p->second.policy;
  r.overall_policy = overall;
  // A pool user may ask for fewer elements than the configured most, never
  // for more (0 and 0xffffffff: as many as allowed).
  uint32_t items = config_.max_resolution_items;
  if (m.resolution_items && *m.resolution_items != 0 && *m.resolution_items != 0xffffffff)
    items = items == 0 ? *m.resolution_items : std::min(items, *m.resolution_items);
  r.elements = ordered(p->second, items);
  send(association, std::move(r));
}

void Registrar::on_keep_alive_ack(uint64_t association, const Message& m, uint64_t now_ms) {
  const auto p = pools_.find(*m.pool_handle);
  if (p == pools_.end()) return;
  const auto e = p->second.elements.find(*m.pe_id);
  if (e == p->second.elements.end() || e->second.association != association) return;
  ++stats_.keep_alive_acks;
  e->second.keep_alive_deadline_ms = 0;
  e->second.unreachable_reports = 0;
  e->second.next_keep_alive_ms = now_ms + config_.keep_alive_interval_ms;
  schedule(p->first, e->second);
}

void Registrar::on_unreachable(const Message& m) {
  ++stats_.unreachable_reports;
  const auto p = pools_.find(*m.pool_handle);
  Element* e = nullptr;
  if (p != pools_.end())
    if (auto i = p->second.elements.find(*m.pe_id); i != p->second.elements.end()) e = &i->second;
  if (e == nullptr) {
    ++stats_.unreachable_unknown;
    return;
  }
  if (++e->unreachable_reports >= config_.max_bad_pe_reports)
    remove(p->first, *m.pe_id, stats_.removed_unreachable, "reported unreachable");
}

void Registrar::remove(const std::string& handle, uint32_t id, uint64_t& counter, const char* why) {
  const auto p = pools_.find(handle);
  if (p == pools_.end()) return;
  const auto e = p->second.elements.find(id);
  if (e == p->second.elements.end()) return;
  ++counter;
  spdlog::info("registrar: PE {:08x} removed from pool {}: {}", id, printable(handle), why);
  timers_.erase({e->second.timer_ms, handle, id});
  if (auto n = elements_per_peer_.find(e->second.peer);
      n != elements_per_peer_.end() && --n->second == 0)
    elements_per_peer_.erase(n);
  p->second.elements.erase(e);
  --elements_;
  if (p->second.elements.empty()) {
    spdlog::info("registrar: pool {} is empty: removed", printable(handle));
    pools_.erase(p);
  }
}

void Registrar::schedule(const std::string& handle, Element& e) {
  timers_.erase({e.timer_ms, handle, e.pe.id});
  e.timer_ms = std::min(e.expires_ms, e.keep_alive_deadline_ms != 0 ? e.keep_alive_deadline_ms
                                                                    : e.next_keep_alive_ms);
  timers_.emplace(e.timer_ms, handle, e.pe.id);
}

uint64_t Registrar::next_deadline() const {
  return timers_.empty() ? std::numeric_limits<uint64_t>::max() : std::get<0>(*timers_.begin());
}

void Registrar::advance(uint64_t now_ms) {
  while (!timers_.empty() && std::get<0>(*timers_.begin()) <= now_ms) {
    const auto [when, handle, id] = *timers_.begin();
    Element& e = pools_.at(handle).elements.at(id);
    if (e.expires_ms <= now_ms) {
      remove(handle, id, stats_.removed_expired, "registration life ran out");
    } else if (e.keep_alive_deadline_ms != 0 && e.keep_alive_deadline_ms <= now_ms) {
      remove(handle, id, stats_.removed_keep_alive, "no ENDPOINT_KEEP_ALIVE_ACK");
    } else {
      Message ka = Message::asap(AsapType::endpoint_keep_alive, kFlagHome);
      ka.sender = config_.server_id;
      ka.pool_handle = handle;
      ka.pe_id = id;
      send(e.association, std::move(ka));
      ++stats_.keep_alives_sent;
      e.keep_alive_deadline_ms = now_ms + config_.keep_alive_timeout_ms;
      schedule(handle, e);
    }
  }
}

std::string Registrar::dump(uint64_t now_ms) const {
  std::map<std::string, const Pool*> sorted;
  for (const auto& [handle, pool] : pools_) sorted[handle] = &pool;
  std::string out =
      fmt::format("handlespace: {} pools, {} pool elements\n", pools_.size(), elements_);
  for (const auto& [handle, pool] : sorted) {
    out += fmt::format("  pool {} policy={} transport={} elements={}\n", printable(handle),
                       policy_name(pool->policy), transport_name(pool->transport),
                       pool->elements.size());
    for (const auto& [id, e] : pool->elements) {
      const Transport& t = e.pe.user_transport;
      out += fmt::format(
          "    {:08x} {}:{}:{} load={:.1f}% life={}s left={}s peer={} assoc={} reports={}\n", id,
          transport_name(t.kind), t.addresses.front().text(), t.port,
          100.0 * e.pe.policy.load / kFullLoad, e.pe.registration_life_ms / 1000,
          e.expires_ms > now_ms ? (e.expires_ms - now_ms) / 1000 : 0, e.peer.text(), e.association,
          e.unreachable_reports);
    }
  }
  return out;
}

}  // namespace poolflow::rserpool
