#include "collector/pool_membership.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <random>
#include <stdexcept>
#include <thread>

#include "poolflow/clock.h"
#include "rserpool/codec.h"
#include "rserpool/resolver.h"
#include "transport/common/socket_address.h"

namespace poolflow::collector {

namespace {

// The local address the kernel picks to reach HOST: what a pool user that
// reaches the registrar can reach a wildcard listener at (no packet is sent).
std::optional<rserpool::Address> address_towards(const std::string& host, uint16_t port) {
  sockaddr_storage peer{};
  socklen_t length = 0;
  try {
    transport::resolve(host, port, peer, length);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const int fd = ::socket(peer.ss_family, SOCK_DGRAM, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_storage local{};
  socklen_t local_length = sizeof local;
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&peer), length) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_length) == 0;
  ::close(fd);
  if (!ok) return std::nullopt;
  return rserpool::Address::of(local);
}

const char* state_name(rserpool::Registrant::State s) {
  static const char* const kNames[] = {"idle",       "waiting",  "connecting",    "registering",
                                       "registered", "rejected", "deregistering", "stopped"};
  return kNames[size_t(s)];
}

}  // namespace

PoolMembership::PoolMembership(const conf::CollectorConf::Pool& pool,
                               const std::vector<conf::Target>& endpoints,
                               const transport::SctpMessageOptions& sctp)
    : pool_(pool), sctp_(sctp) {
  for (const std::string& text : pool.registrars) {
    conf::RegistrarAddress a;
    if (const std::string error = conf::parse_registrar_address(text, a); !error.empty())
      throw std::runtime_error("pool.registrars: " + error);
    registrars_.push_back(a);
  }
  std::random_device random;
  const rserpool::PolicyType policy = *rserpool::policy_from_name(pool.policy);
  for (const conf::Target& e : endpoints) {
    rserpool::RegistrantConfig c;
    c.handle = conf::pool_handle_for(pool, e.kind);
    c.registrars = registrars_.size();
    c.reregistration_interval_ms = pool.reregistration_interval_ms;
    c.response_timeout_ms = pool.response_timeout_ms;
    c.reconnect_interval_ms = pool.reconnect_interval_ms;
    rserpool::PoolElement& pe = c.element;
    while (pe.id == 0) pe.id = random();
    pe.registration_life_ms = static_cast<int32_t>(pool.registration_life_ms);
    rserpool::Transport& t = pe.user_transport;
    t.kind = e.kind == "tcp"   ? rserpool::TransportKind::tcp
             : e.kind == "udp" ? rserpool::TransportKind::udp
                               : rserpool::TransportKind::sctp;
    t.port = e.port;
    t.transport_use = rserpool::kTransportDataOnly;
    t.udp_encapsulation_port = t.kind == rserpool::TransportKind::sctp ? e.udp_encaps_port : 0;
    auto address = rserpool::Address::parse(e.host);
    if (!address) {
      // A name: what it resolves to now is what pool users get.
      sockaddr_storage resolved{};
      socklen_t length = 0;
      transport::resolve(e.host, e.port, resolved, length);
      address = rserpool::Address::of(resolved);
    }
    const bool wildcard = address->is_unspecified();
    if (!pool.address.empty()) address = rserpool::Address::parse(pool.address);
    t.addresses.push_back(*address);
    pe.policy.type = uint32_t(policy);
    pe.policy.weight = pool.weight;
    pe.policy.priority = pool.priority;
    pe.policy.load_dpf =
        static_cast<uint32_t>(uint64_t{rserpool::kFullLoad} * pool.load_degradation_percent / 100);
    members_.push_back(
        {rserpool::Registrant(std::move(c)), nullptr, 0, wildcard && pool.address.empty(), true});
  }
}

void PoolMembership::start(uint64_t now_ms) {
  load_ms_ = now_ms;
  for (size_t i = 0; i < members_.size(); ++i) {
    if (!members_[i].available) continue;
    members_[i].registrant.start(now_ms);
    perform(i);
  }
}

void PoolMembership::connect(size_t index, size_t registrar) {
  Member& m = members_[index];
  const conf::RegistrarAddress& r = registrars_[registrar];
  m.client.reset();
  ++m.generation;
  if (m.wildcard) {
    if (auto a = address_towards(r.host, r.port)) m.registrant.set_user_addresses({*a});
  }
  try {
    m.client = std::make_unique<transport::SctpMessageClient>(r.host, r.port, r.udp_port, sctp_,
                                                              queue_, tag(index, m.generation));
  } catch (const std::exception& e) {
    spdlog::warn("pool {}: registrar {}: {}", m.registrant.config().handle, r.text(), e.what());
    // No association will come: the registrant's timeout moves on.
  }
}

void PoolMembership::perform(size_t index) {
  Member& m = members_[index];
  std::vector<uint8_t> bytes;
  for (rserpool::RegistrantAction& a : m.registrant.take_actions()) {
    switch (a.kind) {
      case rserpool::RegistrantAction::Kind::connect:
        connect(index, a.registrar);
        break;
      case rserpool::RegistrantAction::Kind::disconnect:
        m.client.reset();
        ++m.generation;
        break;
      case rserpool::RegistrantAction::Kind::send:
        bytes.clear();
        rserpool::encode(a.message, bytes);
        if (!m.client || !m.client->send(rserpool::kAsapPpid, bytes))
          spdlog::debug("pool {}: cannot send {} now", m.registrant.config().handle,
                        rserpool::message_name(a.message.protocol, a.message.type));
        break;
    }
  }
}

void PoolMembership::poll(uint64_t now_ms, uint64_t records) {
  // The load: records per second since the last computation against the
  // configured capacity; the next re-registration carries it.
  if (now_ms >= load_ms_ + 1000) {
    const double rate = double(records - load_records_) * 1000.0 / double(now_ms - load_ms_);
    const double share = std::min(1.0, rate / pool_.capacity_records_per_s);
    load_ = static_cast<uint32_t>(share * rserpool::kFullLoad);
    load_records_ = records;
    load_ms_ = now_ms;
    for (Member& m : members_) m.registrant.set_load(load_);
  }
  while (auto e = queue_.pop(std::chrono::milliseconds(0))) {
    const size_t index = e->association >> 32;
    if (index >= members_.size() || uint32_t(e->association) != members_[index].generation)
      continue;
    rserpool::Registrant& r = members_[index].registrant;
    switch (e->kind) {
      case transport::SctpEvent::Kind::up:
        r.association_up(now_ms);
        break;
      case transport::SctpEvent::Kind::down:
        r.association_down(now_ms);
        break;
      case transport::SctpEvent::Kind::message:
        if (e->ppid == rserpool::kAsapPpid) r.received(e->bytes, now_ms);
        break;
    }
    perform(index);
  }
  for (size_t i = 0; i < members_.size(); ++i) {
    members_[i].registrant.advance(now_ms);
    perform(i);
  }
}

void PoolMembership::set_available(size_t endpoint, bool available, uint64_t now_ms) {
  Member& m = members_.at(endpoint);
  if (m.available == available) return;
  m.available = available;
  if (available)
    m.registrant.start(now_ms);
  else
    m.registrant.stop(now_ms);
  perform(endpoint);
}

void PoolMembership::stop(uint64_t wait_ms) {
  const uint64_t now = steady_ms();
  for (size_t i = 0; i < members_.size(); ++i) {
    members_[i].registrant.stop(now);
    perform(i);
  }
  const uint64_t until = now + wait_ms;
  auto all_stopped = [this] {
    for (const Member& m : members_)
      if (m.registrant.state() != rserpool::Registrant::State::stopped) return false;
    return true;
  };
  while (!all_stopped() && steady_ms() < until) {
    poll(steady_ms(), load_records_);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (Member& m : members_) m.client.reset();
}

std::string PoolMembership::report() const {
  std::string out;
  for (const Member& m : members_) {
    const rserpool::RegistrantConfig& c = m.registrant.config();
    const rserpool::RegistrantStats& s = m.registrant.stats();
    out += fmt::format(
        "pool {}: PE {:08x} {} {} at registrar {}: registrations sent {} accepted {} rejected {} "
        "keep-alives answered {} timeouts {} associations lost {}\n",
        c.handle, c.element.id, rserpool::describe(c.element).substr(9),
        state_name(m.registrant.state()), registrars_[m.registrant.registrar()].text(),
        s.registrations_sent, s.registered, s.rejected, s.keep_alives_answered, s.timeouts,
        s.associations_lost);
  }
  return out;
}

}  // namespace poolflow::collector
