#include "transport/sctp/sctp_transport.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "transport/common/socket_address.h"
#include "transport/sctp/usrsctp_stack.h"

namespace poolflow::transport {

namespace {

constexpr int kConnecting = 0, kUp = 1, kDown = 2;
// SCTP common header, DATA chunk header, UDP header and an IPv6 header.
constexpr uint32_t kPacketOverhead = 12 + 16 + 8 + 40;
constexpr int kShutdownWaitMs = 300;

int on_receive(struct socket*, union sctp_sockstore, void* data, size_t length, struct sctp_rcvinfo,
               int flags, void* context) {
  auto* association = static_cast<SctpTransport::AssociationState*>(context);
  if (data == nullptr) {  // the association is gone
    association->state.store(kDown);
    return 1;
  }
  if ((flags & MSG_NOTIFICATION) && length >= sizeof(sctp_notification::sctp_tlv)) {
    const auto* n = static_cast<const sctp_notification*>(data);
    if (n->sn_header.sn_type == SCTP_ASSOC_CHANGE) {
      const sctp_assoc_change& change = n->sn_assoc_change;
      if (change.sac_state == SCTP_COMM_UP || change.sac_state == SCTP_RESTART) {
        association->outbound_streams.store(change.sac_outbound_streams);
        association->state.store(kUp);
      } else {
        association->state.store(kDown);
      }
    } else if (n->sn_header.sn_type == SCTP_SHUTDOWN_EVENT) {
      association->state.store(kDown);
    }
  }
  std::free(data);
  return 1;
}

}  // namespace

SctpTransport::SctpTransport(std::string name, const std::string& host, uint16_t port,
                             const TransportOptions& options, Connect connect)
    : name_(std::move(name)),
      association_(new AssociationState),
      connect_timeout_ms_(options.sctp.connect_timeout_ms) {
  const TransportOptions::Sctp& o = options.sctp;
  sctp::start_usrsctp(o.local_udp_port, o.raw_ip);
  sockaddr_storage peer{};
  socklen_t peer_length = 0;
  resolve(host, port, peer, peer_length);
  peer_ = host + ":" + std::to_string(port) +
          (o.raw_ip ? "" : " (UDP encapsulation port " + std::to_string(o.remote_udp_port) + ")");

  sock_ = usrsctp_socket(peer.ss_family, SOCK_STREAM, IPPROTO_SCTP, on_receive, nullptr, 0,
                         association_);
  if (sock_ == nullptr)
    throw std::runtime_error(name_ + ": usrsctp_socket: " + std::strerror(errno));
  try {
    if (!o.raw_ip) sctp::set_remote_udp_port(sock_, peer.ss_family, o.remote_udp_port);
    sctp::subscribe_events(sock_);
    // Fast dead-peer detection (testbed.md): short RTOs, few retransmissions,
    // heartbeats every 100 ms, set before connect so the association has them.
    sctp_rtoinfo rto{};
    rto.srto_initial = o.rto_initial_ms;
    rto.srto_min = o.rto_min_ms;
    rto.srto_max = o.rto_max_ms;
    sctp::set_option(sock_, SCTP_RTOINFO, &rto, sizeof rto, "SCTP_RTOINFO");
    sctp_assocparams assoc{};
    assoc.sasoc_asocmaxrxt = o.max_retransmissions;
    sctp::set_option(sock_, SCTP_ASSOCINFO, &assoc, sizeof assoc, "SCTP_ASSOCINFO");
    sctp_paddrparams paddr{};
    paddr.spp_hbinterval = o.heartbeat_interval_ms;
    paddr.spp_pathmaxrxt = o.max_retransmissions;
    paddr.spp_flags = SPP_HB_ENABLE;
    sctp::set_option(sock_, SCTP_PEER_ADDR_PARAMS, &paddr, sizeof paddr, "SCTP_PEER_ADDR_PARAMS");
    sctp_initmsg init{};
    init.sinit_num_ostreams = o.streams;
    init.sinit_max_instreams = o.streams;
    sctp::set_option(sock_, SCTP_INITMSG, &init, sizeof init, "SCTP_INITMSG");
    const int on = 1;
    sctp::set_option(sock_, SCTP_NODELAY, &on, sizeof on, "SCTP_NODELAY");
    const int send_buffer = static_cast<int>(o.send_buffer_kib * 1024);
    usrsctp_setsockopt(sock_, SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof send_buffer);
    usrsctp_set_non_blocking(sock_, 1);

    // usrsctp has no path-MTU discovery: once the association exists the MTU is
    // fixed so that one IPFIX message is one DATA chunk (FORWARD-TSN and
    // fragmented messages do not mix well).
    path_.spp_address.ss_family = peer.ss_family;  // wildcard address: every path
    path_.spp_hbinterval = o.heartbeat_interval_ms;
    path_.spp_pathmaxrxt = o.max_retransmissions;
    path_.spp_pathmtu = options.max_message_size + kPacketOverhead;
    path_.spp_flags = SPP_HB_ENABLE | SPP_PMTUD_DISABLE;

    if (usrsctp_connect(sock_, reinterpret_cast<sockaddr*>(&peer), peer_length) != 0 &&
        errno != EINPROGRESS)
      throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
    deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(connect_timeout_ms_);
    if (connect == Connect::wait)
      while (!connected()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  } catch (const std::exception& e) {
    usrsctp_close(sock_);
    const std::string what = e.what();
    throw std::runtime_error(what.starts_with(name_) ? what : name_ + ": " + what);
  }
}

bool SctpTransport::connected() {
  if (up_) return true;
  const int state = association_->state.load();
  if (state == kConnecting && std::chrono::steady_clock::now() < deadline_) return false;
  if (state != kUp)
    throw std::runtime_error(name_ + ": no SCTP association with " + peer_ +
                             (state == kDown
                                  ? ": refused or unanswered"
                                  : " within " + std::to_string(connect_timeout_ms_) + " ms"));
  sctp::set_option(sock_, SCTP_PEER_ADDR_PARAMS, &path_, sizeof path_, "spp_pathmtu");
  streams_ = association_->outbound_streams.load();
  up_ = true;
  spdlog::info("{}: SCTP association up, {} outbound streams, PR-SCTP per message", name_,
               streams_);
  return true;
}

SctpTransport::~SctpTransport() {
  // Graceful SHUTDOWN so that the collector ends the session at once; wait a
  // little for SHUTDOWN-COMPLETE, as the process may exit right after.
  if (association_->state.load() == kUp) {
    usrsctp_shutdown(sock_, SHUT_WR);
    for (int i = 0; i < kShutdownWaitMs && association_->state.load() == kUp; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  usrsctp_close(sock_);
}

SendResult SctpTransport::send(std::span<const uint8_t> message, const MessageInfo& info) {
  if (association_->state.load(std::memory_order_relaxed) != kUp) return SendResult::failed;
  sctp_sendv_spa spa{};
  spa.sendv_flags = SCTP_SEND_SNDINFO_VALID;
  spa.sendv_sndinfo.snd_sid = info.stream < streams_ ? info.stream : 0;
  if (!info.templates && info.policy.kind != Reliability::reliable) {
    spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
    spa.sendv_prinfo.pr_policy =
        info.policy.kind == Reliability::ttl ? SCTP_PR_SCTP_TTL : SCTP_PR_SCTP_RTX;
    spa.sendv_prinfo.pr_value = info.policy.value;
  }
  const ssize_t sent = usrsctp_sendv(sock_, message.data(), message.size(), nullptr, 0, &spa,
                                     sizeof spa, SCTP_SENDV_SPA, 0);
  if (sent >= 0) return SendResult::sent;
  if (errno == EWOULDBLOCK || errno == EAGAIN) return SendResult::would_block;
  return SendResult::failed;
}

bool SctpTransport::drained() const {
  if (association_->state.load() != kUp) return true;  // nothing more will leave
  sctp_status status{};
  socklen_t length = sizeof status;
  if (usrsctp_getsockopt(sock_, IPPROTO_SCTP, SCTP_STATUS, &status, &length) != 0) return true;
  return status.sstat_unackdata == 0 && status.sstat_penddata == 0;
}

bool SctpTransport::flush() { return association_->state.load() == kUp; }

uint64_t SctpTransport::abandoned_messages() const {
  uint64_t total = 0;
  for (const uint16_t policy : {SCTP_PR_SCTP_TTL, SCTP_PR_SCTP_RTX}) {
    sctp_prstatus status{};
    status.sprstat_policy = policy;
    socklen_t length = sizeof status;
    if (usrsctp_getsockopt(sock_, IPPROTO_SCTP, SCTP_PR_ASSOC_STATUS, &status, &length) == 0)
      total += status.sprstat_abandoned_sent + status.sprstat_abandoned_unsent;
  }
  return total;
}

}  // namespace poolflow::transport
