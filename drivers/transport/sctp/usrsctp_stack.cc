#include "transport/sctp/usrsctp_stack.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace poolflow::transport::sctp {

namespace {

std::mutex g_mutex;
bool g_started = false;
bool g_raw_ip = false;
uint16_t g_udp_port = 0;

// usrsctp needs a fixed local UDP port: take one the kernel says is free.
uint16_t free_udp_port() {
  const int fd = ::socket(AF_INET6, SOCK_DGRAM, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "UDP socket");
  sockaddr_in6 any{};
  any.sin6_family = AF_INET6;
  socklen_t length = sizeof any;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&any), sizeof any) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&any), &length) != 0) {
    const int error = errno;
    ::close(fd);
    throw std::system_error(error, std::generic_category(), "free UDP port");
  }
  ::close(fd);
  return ntohs(any.sin6_port);
}

// usrsctp_init binds its UDP sockets itself and says nothing when the port is
// taken: the stack then runs deaf. Try the port first (both families).
void check_udp_port_free(uint16_t port) {
  for (const int family : {AF_INET, AF_INET6}) {
    const int fd = ::socket(family, SOCK_DGRAM, 0);
    if (fd < 0) continue;  // no such family here: usrsctp will not use it either
    if (family == AF_INET6) {
      const int on = 1;
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);  // as usrsctp binds it
    }
    sockaddr_storage any{};
    socklen_t length = 0;
    if (family == AF_INET) {
      auto& a = reinterpret_cast<sockaddr_in&>(any);
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      length = sizeof a;
    } else {
      auto& a = reinterpret_cast<sockaddr_in6&>(any);
      a.sin6_family = AF_INET6;
      a.sin6_port = htons(port);
      length = sizeof a;
    }
    const int result = ::bind(fd, reinterpret_cast<sockaddr*>(&any), length);
    const int error = errno;
    ::close(fd);
    if (result != 0 && error == EADDRINUSE)
      throw std::runtime_error("UDP encapsulation port " + std::to_string(port) +
                               " is already in use on this host (each SCTP process needs its own)");
  }
}

}  // namespace

uint16_t start_usrsctp(uint16_t udp_port, bool raw_ip) {
  std::lock_guard lock(g_mutex);
  if (g_started) {
    if (raw_ip != g_raw_ip || (!raw_ip && udp_port != 0 && udp_port != g_udp_port))
      throw std::runtime_error("usrsctp already runs in this process with " +
                               (g_raw_ip ? std::string("raw IP")
                                         : "UDP encapsulation port " + std::to_string(g_udp_port)));
    return g_udp_port;
  }
  if (!raw_ip && udp_port == 0) udp_port = free_udp_port();
  if (!raw_ip) check_udp_port_free(udp_port);
  usrsctp_init(raw_ip ? 0 : udp_port, nullptr, nullptr);
  // usrsctp_init resets the sysctls: set them now, before any socket exists.
  // A path is "potentially failed" at once, so heartbeats decide liveness fast.
  usrsctp_sysctl_set_sctp_path_pf_threshold(0);
  // Two raw-IP stacks on one host would abort each other's associations.
  if (raw_ip) usrsctp_sysctl_set_sctp_blackhole(2);
  g_started = true;
  g_raw_ip = raw_ip;
  g_udp_port = raw_ip ? 0 : udp_port;
  return g_udp_port;
}

void set_option(struct socket* sock, int option, const void* value, socklen_t length,
                const char* name) {
  if (usrsctp_setsockopt(sock, IPPROTO_SCTP, option, value, length) != 0)
    throw std::system_error(errno, std::generic_category(), std::string("SCTP option ") + name);
}

void subscribe_events(struct socket* sock, bool sender) {
  std::vector<uint16_t> types{SCTP_ASSOC_CHANGE, SCTP_SHUTDOWN_EVENT};
  if (sender) types.insert(types.end(), {SCTP_SEND_FAILED_EVENT, SCTP_PEER_ADDR_CHANGE});
  for (const uint16_t type : types) {
    sctp_event event{};
    event.se_assoc_id = SCTP_ALL_ASSOC;
    event.se_type = type;
    event.se_on = 1;
    set_option(sock, SCTP_EVENT, &event, sizeof event, "SCTP_EVENT");
  }
}

void set_liveness(struct socket* sock, const Liveness& l) {
  sctp_rtoinfo rto{};
  rto.srto_initial = l.rto_initial_ms;
  rto.srto_min = l.rto_min_ms;
  rto.srto_max = l.rto_max_ms;
  set_option(sock, SCTP_RTOINFO, &rto, sizeof rto, "SCTP_RTOINFO");
  sctp_assocparams assoc{};
  assoc.sasoc_asocmaxrxt = l.max_retransmissions;
  set_option(sock, SCTP_ASSOCINFO, &assoc, sizeof assoc, "SCTP_ASSOCINFO");
  sctp_paddrparams paddr{};
  paddr.spp_hbinterval = l.heartbeat_interval_ms;
  paddr.spp_pathmaxrxt = l.max_retransmissions;
  paddr.spp_flags = SPP_HB_ENABLE;
  set_option(sock, SCTP_PEER_ADDR_PARAMS, &paddr, sizeof paddr, "SCTP_PEER_ADDR_PARAMS");
}

bool abort_association(struct socket* sock, sctp_assoc_t id) {
  sctp_sndinfo info{};
  info.snd_flags = SCTP_ABORT;
  info.snd_assoc_id = id;
  static const char kNoData = 0;  // usrsctp wants a buffer even for no data
  return usrsctp_sendv(sock, &kNoData, 0, nullptr, 0, &info, sizeof info, SCTP_SENDV_SNDINFO, 0) >=
         0;
}

void set_remote_udp_port(struct socket* sock, int family, uint16_t port) {
  sctp_udpencaps encaps{};
  encaps.sue_address.ss_family = static_cast<sa_family_t>(family);
  encaps.sue_port = htons(port);
  set_option(sock, SCTP_REMOTE_UDP_ENCAPS_PORT, &encaps, sizeof encaps,
             "SCTP_REMOTE_UDP_ENCAPS_PORT");
}

}  // namespace poolflow::transport::sctp
