#include "control/pool_output.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>

#include "control/transport_events.h"
#include "rserpool/codec.h"
#include "rserpool/resolver.h"

namespace poolflow::control {

namespace {

rserpool::PoolUserConfig user_config(const conf::PoolflowdConf::Pool& p) {
  rserpool::PoolUserConfig u;
  u.handle = p.handle;
  u.registrars = p.registrars.size();
  u.request_timeout_ms = p.request_timeout_ms;
  u.request_retransmits = p.request_retransmits;
  u.reconnect_interval_ms = p.reconnect_interval_ms;
  u.stale_cache_ms = p.stale_cache_ms;
  u.retry_interval_ms = p.retry_interval_ms;
  u.items = p.items;
  u.seed = std::random_device{}();
  return u;
}

// The output a pool element's user transport is reached by, as --output takes it.
std::string output_of(const rserpool::PoolElement& e) {
  const rserpool::Transport& t = e.user_transport;
  const rserpool::Address& a = t.addresses.front();
  return fmt::format("{}:{}:{}", rserpool::transport_name(t.kind),
                     a.v6 ? "[" + a.text() + "]" : a.text(), t.port);
}

// Joins the announce group on the configured interface; -1 (and a warning)
// when that is not possible, so that the static list still serves.
int open_announce_socket(const conf::PoolflowdConf::Pool& p) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("announce socket: ") + std::strerror(errno));
  const int on = 1;
  sockaddr_in bound{};
  bound.sin_family = AF_INET;
  bound.sin_port = htons(p.announce_port);
  ip_mreq membership{};
  inet_pton(AF_INET, p.announce_group.c_str(), &membership.imr_multiaddr);
  inet_pton(AF_INET, p.announce_interface.c_str(), &membership.imr_interface);
  // Bound to the group, the socket sees the group's datagrams and no others.
  bound.sin_addr = membership.imr_multiaddr;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&bound), sizeof bound) != 0 ||
      ::setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &membership, sizeof membership) != 0) {
    const std::string error = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error(fmt::format("listening for SERVER_ANNOUNCE on {}:{} at {}: {}",
                                         p.announce_group, p.announce_port, p.announce_interface,
                                         error));
  }
  return fd;
}

}  // namespace

PoolOutput::PoolOutput(const conf::PoolflowdConf& c, std::vector<exporter::Exporter*> exporters,
                       std::shared_ptr<exporter::ShareTable> shares,
                       transport::SctpEventQueue& events)
    : user_(user_config(c.pool)),
      transport_(c.transport),
      events_(events),
      shares_(std::move(shares)) {
  for (const std::string& text : c.pool.registrars) {
    conf::RegistrarAddress a;
    if (const std::string error = conf::parse_registrar_address(text, a); !error.empty())
      throw std::invalid_argument(error);  // the conf was checked: not reached
    registrars_.push_back(a);
  }
  asap_.local_udp_port = c.transport.sctp.local_udp_port;
  asap_.raw_ip = c.transport.sctp.raw_ip;
  asap_.rto_initial_ms = c.transport.sctp.rto_initial_ms;
  asap_.rto_min_ms = c.transport.sctp.rto_min_ms;
  asap_.rto_max_ms = c.transport.sctp.rto_max_ms;
  asap_.max_retransmissions = c.transport.sctp.max_retransmissions;
  asap_.heartbeat_interval_ms = c.transport.sctp.heartbeat_interval_ms;
  if (c.pool.announces) announce_fd_ = open_announce_socket(c.pool);
  for (exporter::Exporter* exporter : exporters) slots_.push_back({exporter, {}, {}, false, 0});
}

PoolOutput::~PoolOutput() {
  if (announce_fd_ >= 0) ::close(announce_fd_);
}

void PoolOutput::start(uint64_t now_ms) {
  std::string known;
  for (const conf::RegistrarAddress& r : registrars_)
    known += (known.empty() ? "" : ", ") + r.text();
  spdlog::info("pool {}: {} session(s); registrars: {}{}", handle(), slots_.size(),
               known.empty() ? "none yet" : known,
               announce_fd_ >= 0 ? " (and announced ones)" : "");
  // With no registrar known yet the user waits for an announce.
  if (!registrars_.empty()) user_.start(now_ms);
  run_actions(now_ms);
}

void PoolOutput::run_actions(uint64_t now_ms) {
  for (rserpool::PoolUserAction& a : user_.take_actions()) {
    switch (a.kind) {
      case rserpool::PoolUserAction::Kind::connect: {
        const conf::RegistrarAddress& r = registrars_.at(a.registrar);
        try {
          registrar_ = std::make_unique<transport::SctpMessageClient>(
              r.host, r.port, r.udp_port, asap_, events_, ++registrar_tag_);
        } catch (const std::exception& e) {
          spdlog::warn("pool {}: registrar {}: {}", handle(), r.text(), e.what());
          registrar_.reset();
          user_.association_down(now_ms);
        }
        break;
      }
      case rserpool::PoolUserAction::Kind::disconnect:
        registrar_.reset();
        ++registrar_tag_;
        break;
      case rserpool::PoolUserAction::Kind::send:
        if (!registrar_ || !registrar_->send(rserpool::kAsapPpid, rserpool::encode(a.message)))
          spdlog::debug("pool {}: {} not sent: no association", handle(),
                        rserpool::message_name(rserpool::Protocol::asap, a.message.type));
        break;
    }
  }
}

void PoolOutput::on_event(const transport::SctpEvent& event, uint64_t now_ms) {
  if ((event.association & kTagOwnerMask) == kPoolElementTags) {
    on_element_event(event, now_ms);
    return;
  }
  if (event.association != registrar_tag_ || !registrar_) return;  // an older association's
  switch (event.kind) {
    case transport::SctpEvent::Kind::up:
      user_.association_up(now_ms);
      break;
    case transport::SctpEvent::Kind::down:
      user_.association_down(now_ms);
      break;
    case transport::SctpEvent::Kind::message:
      if (event.ppid == rserpool::kAsapPpid) user_.received(event.bytes, now_ms);
      break;
  }
  run_actions(now_ms);
}

void PoolOutput::on_element_event(const transport::SctpEvent& event, uint64_t now_ms) {
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& slot = slots_[i];
    if (slot.tag != event.association || !slot.element) continue;  // else an older transport's
    if (slot.handed_over) {
      if (event.kind == transport::SctpEvent::Kind::down) lost(slot, "association lost", now_ms);
    } else {
      keep(slot, i, now_ms);  // up: hand it over; down: connected() says why
    }
    run_actions(now_ms);
    return;
  }
}

void PoolOutput::read_announces() {
  uint8_t buffer[2048];
  for (;;) {
    const ssize_t n = ::recv(announce_fd_, buffer, sizeof buffer, 0);
    if (n < 0) return;  // EAGAIN, or an error the next tick retries
    const rserpool::DecodeResult r =
        rserpool::decode(rserpool::Protocol::asap, {buffer, static_cast<size_t>(n)});
    if (!r.ok() || !r.message.is(rserpool::AsapType::server_announce)) {
      stats_.bad_announces.add();
      continue;
    }
    stats_.announces.add();
    for (const rserpool::Transport& t : r.message.transports) {
      if (t.kind != rserpool::TransportKind::sctp || t.addresses.empty()) continue;
      conf::RegistrarAddress a;
      a.host = t.addresses.front().text();
      a.port = t.port;
      if (t.udp_encapsulation_port != 0) a.udp_port = t.udp_encapsulation_port;
      const bool known = std::any_of(registrars_.begin(), registrars_.end(), [&](const auto& k) {
        return k.host == a.host && k.port == a.port && k.udp_port == a.udp_port;
      });
      if (known) continue;
      registrars_.push_back(a);
      user_.add_registrar();
      spdlog::info("pool {}: registrar {} learnt from its announce", handle(), a.text());
    }
  }
}

void PoolOutput::lost(Slot& slot, const std::string& why, uint64_t now_ms) {
  const rserpool::PoolElement element = *slot.element;
  spdlog::info("pool {}: PE {:08x} ({}) {}: reported unreachable", handle(), element.id,
               output_of(element), why);
  slot.element.reset();
  slot.connecting.reset();
  slot.handed_over = false;
  stats_.unreachable.add();
  user_.unreachable(element.id, now_ms);
  reshare();
}

void PoolOutput::reshare() {
  if (!shares_) return;
  std::vector<uint64_t> weights;
  for (const Slot& slot : slots_) {
    uint64_t w = 0;
    if (slot.element && slot.handed_over) {
      const rserpool::Policy& p = slot.element->policy;
      switch (rserpool::PolicyType(p.type)) {
        case rserpool::PolicyType::weighted_round_robin:
        case rserpool::PolicyType::weighted_random:
          w = p.weight;
          break;
        case rserpool::PolicyType::randomized_least_used:
          w = rserpool::kFullLoad - std::min(p.load, rserpool::kFullLoad);
          break;
        default:
          w = 1;
      }
    }
    weights.push_back(w);
  }
  shares_->assign(weights);
  std::vector<size_t> slots(slots_.size());
  for (const auto& m : shares_->member) ++slots[m.load(std::memory_order_relaxed)];
  spdlog::info("pool {}: records shared {} (of {} by flow-key hash)", handle(),
               fmt::join(slots, ":"), exporter::ShareTable::kSlots);
}

void PoolOutput::keep(Slot& slot, size_t index, uint64_t now_ms) {
  if (slot.connecting) {
    try {
      if (!slot.connecting->connected()) return;
    } catch (const std::exception& e) {
      lost(slot, e.what(), now_ms);
      return;
    }
    slot.exporter->replace_transport(std::move(slot.connecting));
    slot.handed_over = true;
    stats_.exporting.add();
    spdlog::info("pool {}: session {} exports to PE {:08x} ({})", handle(), index, slot.element->id,
                 output_of(*slot.element));
    reshare();
    return;
  }
  if (slot.handed_over) {
    // SCTP tells of a lost association through the queue; the other kinds are
    // seen down at the exporter's flushes.
    if (!output_of(*slot.element).starts_with("sctp:") && !slot.exporter->replacement_pending() &&
        !slot.exporter->awaiting_transport() && !slot.exporter->transport_up())
      lost(slot, "association lost", now_ms);
    return;
  }
  if (closing_ && !slot.exporter->awaiting_transport()) return;
  std::vector<uint32_t> in_use;
  for (const Slot& other : slots_)
    if (other.element) in_use.push_back(other.element->id);
  const std::optional<rserpool::PoolElement> chosen = user_.select(in_use);
  if (!chosen) return;
  slot.element = chosen;
  stats_.selected.add();
  TransportOptions options = transport_;
  if (chosen->user_transport.udp_encapsulation_port != 0)
    options.sctp.remote_udp_port = chosen->user_transport.udp_encapsulation_port;
  spdlog::info("pool {}: selected PE {:08x} ({}) by {}", handle(), chosen->id, output_of(*chosen),
               rserpool::policy_name(uint32_t(user_.policy())));
  slot.tag = kPoolElementTags | ++element_tags_;
  try {
    slot.connecting = open_transport(output_of(*chosen), options, Connect::start,
                                     queue_events(events_, slot.tag));
  } catch (const std::exception& e) {
    lost(slot, e.what(), now_ms);
  }
}

void PoolOutput::tick(uint64_t now_ms) {
  if (announce_fd_ >= 0) {
    const size_t known = registrars_.size();
    read_announces();
    if (known == 0 && !registrars_.empty()) user_.start(now_ms);
  }
  if (now_ms >= user_.next_deadline()) user_.advance(now_ms);
  run_actions(now_ms);
  for (size_t i = 0; i < slots_.size(); ++i) keep(slots_[i], i, now_ms);
  run_actions(now_ms);  // reports of elements found unreachable just now
}

std::vector<std::string> PoolOutput::members() const {
  std::vector<std::string> out;
  for (const Slot& slot : slots_)
    out.push_back(slot.element && slot.handed_over
                      ? fmt::format("PE {:08x} {}", slot.element->id, output_of(*slot.element))
                      : std::string("-"));
  return out;
}

}  // namespace poolflow::control
