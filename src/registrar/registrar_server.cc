#include "registrar/registrar_server.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>

#include "poolflow/clock.h"
#include "poolflow/transport.h"
#include "rserpool/codec.h"
#include "rserpool/registrar.h"
#include "transport/sctp/sctp_messages.h"

namespace poolflow::registrar {

namespace {

// SERVER_ANNOUNCE over UDP multicast (RFC 5352 §3.6), on the interface the
// conf file names only, so announces never leave by the default route.
class Announcer {
 public:
  Announcer(const conf::RegistrarConf::Announce& a, std::vector<uint8_t> message)
      : message_(std::move(message)), interval_ms_(a.interval_ms) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    if (fd_ < 0) throw std::runtime_error(std::string("announce socket: ") + std::strerror(errno));
    in_addr interface {};
    inet_pton(AF_INET, a.interface.c_str(), &interface);
    const unsigned char ttl = static_cast<unsigned char>(a.ttl), loop = 1;
    if (::setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_IF, &interface, sizeof interface) != 0 ||
        ::setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) != 0 ||
        ::setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop) != 0) {
      const std::string error = std::strerror(errno);
      ::close(fd_);
      throw std::runtime_error("announce on " + a.interface + ": " + error);
    }
    group_.sin_family = AF_INET;
    group_.sin_port = htons(a.port);
    inet_pton(AF_INET, a.group.c_str(), &group_.sin_addr);
  }
  ~Announcer() { ::close(fd_); }

  /// Sends when due; returns when it is next due.
  uint64_t tick(uint64_t now_ms) {
    if (now_ms >= next_ms_) {
      if (::sendto(fd_, message_.data(), message_.size(), 0, reinterpret_cast<sockaddr*>(&group_),
                   sizeof group_) < 0) {
        if (errors_++ == 0) spdlog::warn("registrar: SERVER_ANNOUNCE: {}", std::strerror(errno));
      } else {
        ++sent_;
      }
      next_ms_ = now_ms + interval_ms_;
    }
    return next_ms_;
  }
  uint64_t sent() const { return sent_; }

 private:
  int fd_ = -1;
  sockaddr_in group_{};
  std::vector<uint8_t> message_;
  uint32_t interval_ms_;
  uint64_t next_ms_ = 0;
  uint64_t sent_ = 0, errors_ = 0;
};

std::string statistics(const rserpool::Registrar& r, const transport::SctpEventQueue& queue,
                       uint64_t announces, uint64_t send_failures, uint64_t other_ppid,
                       uint64_t now_ms) {
  const rserpool::RegistrarStats& s = r.stats();
  std::string out = fmt::format(
      "registrar: messages {} registrations {} reregistrations {} rejected {} deregistrations {} "
      "resolutions {} (unknown pool {})\n"
      "registrar: keep-alives sent {} acked {}; removed: keep-alive {} association {} expired {} "
      "unreachable {} "
      "(reports {}, of unknown elements {})\n"
      "registrar: malformed {} unexpected {} unknown parameters reported {} associations refused "
      "{} aborted {} "
      "not ASAP {} queue drops {} send failures {} announces {}\n",
      s.messages, s.registrations, s.reregistrations, s.registrations_rejected, s.deregistrations,
      s.resolutions, s.resolutions_unknown_pool, s.keep_alives_sent, s.keep_alive_acks,
      s.removed_keep_alive, s.removed_association, s.removed_expired, s.removed_unreachable,
      s.unreachable_reports, s.unreachable_unknown, s.malformed, s.unexpected,
      s.unknown_parameters_reported, s.associations_refused, s.associations_aborted, other_ppid,
      queue.dropped(), send_failures, announces);
  std::string causes;
  for (size_t i = 0; i < s.rejects_by_cause.size(); ++i)
    if (s.rejects_by_cause[i] != 0)
      causes += fmt::format(" {}={}", rserpool::cause_name(uint16_t(i)), s.rejects_by_cause[i]);
  if (!causes.empty()) out += "registrar: rejected by cause:" + causes + "\n";
  std::string errors;
  for (size_t i = 1; i < s.malformed_by_error.size(); ++i)
    if (s.malformed_by_error[i] != 0)
      errors += fmt::format(" {}={}", rserpool::decode_error_name(rserpool::DecodeError(i)),
                            s.malformed_by_error[i]);
  if (!errors.empty()) out += "registrar: malformed by kind:" + errors + "\n";
  return out + r.dump(now_ms);
}

}  // namespace

int run(const conf::RegistrarConf& c, const sigset_t& signals) {
  rserpool::RegistrarConfig config;
  config.server_id = c.registrar.server_id;
  while (config.server_id == 0) config.server_id = static_cast<uint32_t>(std::random_device{}());
  config.allow_loopback = c.registrar.allow_loopback;
  config.keep_alive_interval_ms = c.registrar.keep_alive_interval_ms;
  config.keep_alive_timeout_ms = c.registrar.keep_alive_timeout_ms;
  config.max_bad_pe_reports = c.registrar.max_bad_pe_reports;
  config.min_registration_life_ms = static_cast<int32_t>(c.registrar.min_registration_life_ms);
  config.max_registration_life_ms = static_cast<int32_t>(c.registrar.max_registration_life_ms);
  config.max_resolution_items = c.registrar.max_resolution_items;
  config.max_pools = c.limits.max_pools;
  config.max_elements_per_pool = c.limits.max_elements_per_pool;
  config.max_elements_per_peer = c.limits.max_elements_per_peer;
  config.max_associations_per_peer = c.limits.max_associations_per_peer;
  config.max_handle_length = c.limits.max_handle_length;
  config.max_message_size = c.limits.max_message_size;
  config.max_bad_messages = c.limits.max_bad_messages;
  rserpool::Registrar registrar(config);

  std::string host;
  uint16_t port = 0;
  std::string error;
  split_host_port(c.asap.listen, host, port, error);
  transport::SctpMessageOptions options;
  options.local_udp_port = c.sctp.udp_encaps_port;
  options.raw_ip = c.sctp.raw_ip;
  // Reassembled up to the largest ASAP message, so that one over the limit is
  // answered (lack of resources) and counted by the registrar.
  options.max_message = 65535;
  transport::SctpEventQueue queue;
  transport::SctpMessageServer server(host, port, options, queue);

  std::unique_ptr<Announcer> announcer;
  if (c.announce.enabled) {
    rserpool::Message announce = rserpool::Message::asap(rserpool::AsapType::server_announce);
    announce.sender = config.server_id;
    rserpool::Transport t;
    t.kind = rserpool::TransportKind::sctp;
    t.port = port;
    t.transport_use = rserpool::kTransportDataPlusControl;
    auto address = rserpool::Address::parse(host);
    if (!address || address->is_unspecified())
      address = rserpool::Address::parse(c.announce.interface);
    t.addresses.push_back(*address);
    if (!c.sctp.raw_ip) t.udp_encapsulation_port = server.udp_port();
    announce.transports.push_back(t);
    announcer = std::make_unique<Announcer>(c.announce, rserpool::encode(announce));
  }
  spdlog::info("registrar {:08x} listening for ASAP on {}{}", config.server_id,
               server.description(),
               announcer ? fmt::format("; announcing to {}:{} on {}", c.announce.group,
                                       c.announce.port, c.announce.interface)
                         : "");

  uint64_t send_failures = 0, other_ppid = 0;
  std::vector<uint8_t> buffer;
  uint64_t next_stats =
      c.log.stats_interval_s ? steady_ms() + c.log.stats_interval_s * 1000ull : UINT64_MAX;
  for (;;) {
    uint64_t now = steady_ms();
    uint64_t wake = std::min(registrar.next_deadline(), now + 100);
    if (announcer) wake = std::min(wake, announcer->tick(now));
    if (auto e = queue.pop(std::chrono::milliseconds(wake > now ? wake - now : 0))) {
      now = steady_ms();
      switch (e->kind) {
        case transport::SctpEvent::Kind::up:
          if (!registrar.association_up(e->association, rserpool::Address::of(e->peer), now))
            server.abort(e->association);
          break;
        case transport::SctpEvent::Kind::down:
          registrar.association_down(e->association, now);
          break;
        case transport::SctpEvent::Kind::message:
          if (e->ppid == rserpool::kAsapPpid)
            registrar.received(e->association, e->bytes, now);
          else if (other_ppid++ == 0)
            spdlog::warn("registrar: association {}: ignoring a message of PPID {} (ASAP is {})",
                         e->association, e->ppid, rserpool::kAsapPpid);
          break;
      }
    }
    registrar.advance(steady_ms());
    for (const rserpool::Outgoing& o : registrar.take_outgoing()) {
      if (o.abort) {
        server.abort(o.association);
        continue;
      }
      buffer.clear();
      rserpool::encode(o.message, buffer);
      if (!server.send(o.association, rserpool::kAsapPpid, buffer)) ++send_failures;
    }
    const timespec zero{0, 0};
    const int sig = sigtimedwait(&signals, nullptr, &zero);
    if (sig == SIGUSR1)
      fmt::print("{}", statistics(registrar, queue, announcer ? announcer->sent() : 0,
                                  send_failures, other_ppid, steady_ms()));
    if (steady_ms() >= next_stats) {
      spdlog::info("{} pools, {} pool elements, {} messages", registrar.pool_count(),
                   registrar.element_count(), registrar.stats().messages);
      next_stats += c.log.stats_interval_s * 1000ull;
    }
    std::fflush(stdout);
    if (sig == SIGINT || sig == SIGTERM) {
      spdlog::info("signal {}: closing", sig);
      break;
    }
  }
  fmt::print("{}", statistics(registrar, queue, announcer ? announcer->sent() : 0, send_failures,
                              other_ppid, steady_ms()));
  std::fflush(stdout);
  return 0;
}

}  // namespace poolflow::registrar
