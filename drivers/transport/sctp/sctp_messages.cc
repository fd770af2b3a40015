#include "transport/sctp/sctp_messages.h"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>
#include <usrsctp.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "transport/common/socket_address.h"
#include "transport/sctp/usrsctp_stack.h"

namespace poolflow::transport {

void SctpEventQueue::push(SctpEvent&& event) {
  {
    std::lock_guard lock(mutex_);
    if (event.kind == SctpEvent::Kind::message && events_.size() >= capacity_) {
      ++dropped_;
      return;
    }
    events_.push_back(std::move(event));
  }
  ready_.notify_one();
}

std::optional<SctpEvent> SctpEventQueue::pop(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  if (!ready_.wait_for(lock, wait, [this] { return !events_.empty(); })) return std::nullopt;
  SctpEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

uint64_t SctpEventQueue::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

struct SctpMessageContext {
  std::mutex mutex;
  bool active = true;  ///< false once the owner is gone: late callbacks are ignored
  SctpEventQueue* queue = nullptr;
  struct socket* sock = nullptr;
  bool client = false;
  uint64_t tag = 0;  ///< client: the association's name in events
  bool up = false;   ///< client: the association is up
  size_t max_message = 0;
  std::unordered_map<sctp_assoc_t, std::vector<uint8_t>> partial;  ///< messages delivered in pieces

  uint64_t name(sctp_assoc_t id) const { return client ? tag : uint64_t(uint32_t(id)); }

  void abort(sctp_assoc_t id) { sctp::abort_association(sock, id); }

  void on_notification(const sctp_notification& n) {
    SctpEvent e;
    sctp_assoc_t id = 0;
    if (n.sn_header.sn_type == SCTP_ASSOC_CHANGE) {
      const sctp_assoc_change& change = n.sn_assoc_change;
      id = change.sac_assoc_id;
      if (change.sac_state == SCTP_COMM_UP || change.sac_state == SCTP_RESTART) {
        e.kind = SctpEvent::Kind::up;
      } else if (change.sac_state == SCTP_COMM_LOST || change.sac_state == SCTP_SHUTDOWN_COMP ||
                 change.sac_state == SCTP_CANT_STR_ASSOC) {
        e.kind = SctpEvent::Kind::down;
      } else {
        return;
      }
    } else if (n.sn_header.sn_type == SCTP_SHUTDOWN_EVENT) {
      id = n.sn_shutdown_event.sse_assoc_id;
      e.kind = SctpEvent::Kind::down;
    } else {
      return;
    }
    std::lock_guard lock(mutex);
    if (!active) return;
    e.association = name(id);
    if (e.kind == SctpEvent::Kind::up) {
      struct sockaddr* addresses = nullptr;
      if (usrsctp_getpaddrs(sock, id, &addresses) > 0) {
        const socklen_t length =
            addresses->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
        std::memcpy(&e.peer, addresses, length);
      }
      if (addresses != nullptr) usrsctp_freepaddrs(addresses);
      up = true;
    } else {
      partial.erase(id);
      if (client && !up && n.sn_header.sn_type == SCTP_SHUTDOWN_EVENT) return;
      up = false;
    }
    queue->push(std::move(e));
  }

  void on_data(const uint8_t* data, size_t length, const sctp_rcvinfo& info, int flags) {
    std::unique_lock lock(mutex);
    if (!active) return;
    std::vector<uint8_t>& piece = partial[info.rcv_assoc_id];
    if (piece.size() + length > max_message) {
      partial.erase(info.rcv_assoc_id);
      lock.unlock();
      spdlog::warn("sctp assoc {}: control message longer than {} octets: aborting",
                   info.rcv_assoc_id, max_message);
      abort(info.rcv_assoc_id);
      return;
    }
    piece.insert(piece.end(), data, data + length);
    if (!(flags & MSG_EOR)) return;
    SctpEvent e;
    e.kind = SctpEvent::Kind::message;
    e.association = name(info.rcv_assoc_id);
    e.ppid = ntohl(info.rcv_ppid);
    e.stream = info.rcv_sid;
    e.bytes = std::move(piece);
    partial.erase(info.rcv_assoc_id);
    queue->push(std::move(e));
  }

  bool send(sctp_assoc_t id, uint32_t ppid, std::span<const uint8_t> bytes) {
    sctp_sndinfo info{};
    info.snd_ppid = htonl(ppid);
    info.snd_assoc_id = id;
    return usrsctp_sendv(sock, bytes.data(), bytes.size(), nullptr, 0, &info, sizeof info,
                         SCTP_SENDV_SNDINFO, 0) >= 0;
  }

  void close();
};

namespace {

// usrsctp may still call back with a closed socket's pointer while its
// association winds down (a SHUTDOWN or ABORT takes at most a few RTO.max).
// A closed context is freed only after a grace period far beyond that, so a
// client that reconnects for days does not leak one per try.
constexpr auto kClosedContextGrace = std::chrono::seconds(60);

struct ClosedContexts {
  std::mutex mutex;
  std::deque<std::pair<std::chrono::steady_clock::time_point, SctpMessageContext*>> contexts;

  void retire(SctpMessageContext* context) {
    const auto now = std::chrono::steady_clock::now();
    std::vector<SctpMessageContext*> expired;
    {
      std::lock_guard lock(mutex);
      while (!contexts.empty() && now - contexts.front().first > kClosedContextGrace) {
        expired.push_back(contexts.front().second);
        contexts.pop_front();
      }
      contexts.emplace_back(now, context);
    }
    for (SctpMessageContext* c : expired) delete c;
  }
};

ClosedContexts& closed_contexts() {
  static auto* closed = new ClosedContexts;  // never destroyed: usrsctp outlives statics
  return *closed;
}

}  // namespace

void SctpMessageContext::close() {
  struct socket* s = nullptr;
  {
    std::lock_guard lock(mutex);
    active = false;
    s = sock;
  }
  if (s != nullptr) usrsctp_close(s);
  closed_contexts().retire(this);
}

namespace {

struct socket* open_socket(int family, int type, const SctpMessageOptions& o,
                           SctpMessageContext* context) {
  struct socket* sock = usrsctp_socket(family, type, IPPROTO_SCTP,
                                       sctp::receive_into<SctpMessageContext>, nullptr, 0, context);
  if (sock == nullptr) {
    const std::string error = std::strerror(errno);
    context->close();
    throw std::runtime_error("usrsctp_socket: " + error);
  }
  context->sock = sock;
  context->max_message = o.max_message;
  try {
    sctp::subscribe_events(sock);
    const int on = 1;
    sctp::set_option(sock, SCTP_RECVRCVINFO, &on, sizeof on, "SCTP_RECVRCVINFO");
    sctp::set_option(sock, SCTP_NODELAY, &on, sizeof on, "SCTP_NODELAY");
    sctp::set_liveness(sock, {o.rto_initial_ms, o.rto_min_ms, o.rto_max_ms, o.max_retransmissions,
                              o.heartbeat_interval_ms});
    sctp_initmsg init{};
    init.sinit_num_ostreams = o.streams;
    init.sinit_max_instreams = o.streams;
    sctp::set_option(sock, SCTP_INITMSG, &init, sizeof init, "SCTP_INITMSG");
    const int buffer = static_cast<int>(o.buffer_kib * 1024);
    usrsctp_setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
    usrsctp_setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    usrsctp_set_non_blocking(sock, 1);
  } catch (...) {
    context->close();
    throw;
  }
  return sock;
}

}  // namespace

SctpMessageServer::SctpMessageServer(const std::string& host, uint16_t port,
                                     const SctpMessageOptions& options, SctpEventQueue& queue)
    : context_(new SctpMessageContext) {
  context_->queue = &queue;
  udp_port_ = sctp::start_usrsctp(options.local_udp_port, options.raw_ip);
  sockaddr_storage local{};
  socklen_t length = 0;
  resolve(host, port, local, length);
  struct socket* sock = open_socket(local.ss_family, SOCK_SEQPACKET, options, context_);
  const std::string where = address_text(reinterpret_cast<sockaddr*>(&local));
  if (usrsctp_bind(sock, reinterpret_cast<sockaddr*>(&local), length) != 0 ||
      usrsctp_listen(sock, 128) != 0) {
    const std::string error = std::strerror(errno);
    context_->close();
    throw std::runtime_error("sctp: listen " + where + ": " + error);
  }
  description_ =
      "sctp " + where +
      (options.raw_ip ? " (raw IP)" : " (UDP encapsulation " + std::to_string(udp_port_) + ")");
}

SctpMessageServer::~SctpMessageServer() { context_->close(); }

bool SctpMessageServer::send(uint64_t association, uint32_t ppid, std::span<const uint8_t> bytes) {
  return context_->send(static_cast<sctp_assoc_t>(association), ppid, bytes);
}

void SctpMessageServer::abort(uint64_t association) {
  context_->abort(static_cast<sctp_assoc_t>(association));
}

SctpMessageClient::SctpMessageClient(const std::string& host, uint16_t port,
                                     uint16_t remote_udp_port, const SctpMessageOptions& options,
                                     SctpEventQueue& queue, uint64_t tag)
    : context_(new SctpMessageContext) {
  context_->queue = &queue;
  context_->client = true;
  context_->tag = tag;
  sctp::start_usrsctp(options.local_udp_port, options.raw_ip);
  sockaddr_storage peer{};
  socklen_t length = 0;
  resolve(host, port, peer, length);
  struct socket* sock = open_socket(peer.ss_family, SOCK_STREAM, options, context_);
  try {
    if (!options.raw_ip) sctp::set_remote_udp_port(sock, peer.ss_family, remote_udp_port);
    if (usrsctp_connect(sock, reinterpret_cast<sockaddr*>(&peer), length) != 0 &&
        errno != EINPROGRESS)
      throw std::runtime_error("sctp: connect " + host + ":" + std::to_string(port) + ": " +
                               std::strerror(errno));
  } catch (...) {
    context_->close();
    throw;
  }
}

SctpMessageClient::~SctpMessageClient() {
  bool up = false;
  {
    std::lock_guard lock(context_->mutex);
    up = context_->up;
  }
  // A graceful SHUTDOWN, so the peer forgets the association at once; a
  // little wait for it, as the process may exit right after.
  if (up) {
    usrsctp_shutdown(context_->sock, SHUT_WR);
    for (int i = 0; i < 300; ++i) {
      {
        std::lock_guard lock(context_->mutex);
        if (!context_->up) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  context_->close();
}

bool SctpMessageClient::send(uint32_t ppid, std::span<const uint8_t> bytes) {
  {
    std::lock_guard lock(context_->mutex);
    if (!context_->up) return false;
  }
  return context_->send(0, ppid, bytes);
}

std::vector<sockaddr_storage> SctpMessageClient::local_addresses() const {
  std::vector<sockaddr_storage> out;
  struct sockaddr* addresses = nullptr;
  const int n = usrsctp_getladdrs(context_->sock, 0, &addresses);
  const auto* p = reinterpret_cast<const uint8_t*>(addresses);
  for (int i = 0; i < n; ++i) {
    const auto* a = reinterpret_cast<const sockaddr*>(p);
    const size_t length = a->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    sockaddr_storage s{};
    std::memcpy(&s, a, length);
    out.push_back(s);
    p += length;
  }
  if (addresses != nullptr) usrsctp_freeladdrs(addresses);
  return out;
}

}  // namespace poolflow::transport
