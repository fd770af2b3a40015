#include "transport/sctp/sctp_listener.h"

#include <spdlog/spdlog.h>
#include <usrsctp.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "transport/common/socket_address.h"
#include "transport/sctp/usrsctp_stack.h"

namespace poolflow::transport {

namespace {
// The largest IPFIX message plus room for what a broken peer might send
// before the length check stops it.
constexpr size_t kMaxMessage = 65535;
}  // namespace

struct SctpListenerContext {
  struct Association {
    uint64_t session;
    std::vector<uint8_t> partial;  ///< a message delivered in pieces (partial delivery)
  };

  std::mutex mutex;
  bool active = true;  ///< false once the listener is gone: ignore late callbacks
  MessageSink* sink;
  struct socket* sock = nullptr;
  uint32_t max_sessions;
  std::unordered_map<sctp_assoc_t, Association> associations;

  void abort(sctp_assoc_t id) {
    if (!sctp::abort_association(sock, id))
      spdlog::warn("sctp: cannot abort association {}: {}", id, std::strerror(errno));
  }

  std::string peer_of(sctp_assoc_t id) {
    struct sockaddr* addresses = nullptr;
    std::string text = "?";
    if (usrsctp_getpaddrs(sock, id, &addresses) > 0) text = address_text(addresses);
    if (addresses != nullptr) usrsctp_freepaddrs(addresses);
    return text;
  }

  void on_notification(const sctp_notification& n) {
    if (n.sn_header.sn_type != SCTP_ASSOC_CHANGE) return;
    const sctp_assoc_change& change = n.sn_assoc_change;
    const sctp_assoc_t id = change.sac_assoc_id;
    if (change.sac_state == SCTP_COMM_UP || change.sac_state == SCTP_RESTART) {
      std::unique_lock lock(mutex);
      if (!active) return;
      if (auto old = associations.find(id); old != associations.end()) {
        sink->session_ended(old->second.session);  // a restart is a new session
        associations.erase(old);
      }
      if (associations.size() >= max_sessions) {
        lock.unlock();
        spdlog::warn("sctp: refusing association {}: {} sessions already", id, max_sessions);
        abort(id);
        return;
      }
      const uint64_t session = next_session_id();
      associations.emplace(id, Association{session, {}});
      sink->session_started(session, "sctp " + peer_of(id) + " assoc " + std::to_string(id));
    } else if (change.sac_state == SCTP_COMM_LOST || change.sac_state == SCTP_SHUTDOWN_COMP ||
               change.sac_state == SCTP_CANT_STR_ASSOC) {
      std::lock_guard lock(mutex);
      if (!active) return;
      if (auto it = associations.find(id); it != associations.end()) {
        sink->session_ended(it->second.session);
        associations.erase(it);
      }
    }
  }

  // ASAP (PPID 11) goes to the sink as a control message; anything else is
  // taken for IPFIX, which has no PPID of its own (exporters send 0).
  bool deliver(const Association& a, const sctp_rcvinfo& info, std::span<const uint8_t> bytes) {
    const uint32_t ppid = ntohl(info.rcv_ppid);
    if (ppid == kSctpPpidAsap) {
      sink->control_message(a.session, ppid, bytes);
      return true;
    }
    return sink->message(a.session, info.rcv_sid, bytes);
  }

  void on_data(const uint8_t* data, size_t length, const sctp_rcvinfo& info, int flags) {
    std::unique_lock lock(mutex);
    if (!active) return;
    const auto it = associations.find(info.rcv_assoc_id);
    if (it == associations.end()) return;  // data before COMM_UP was seen: not possible
    Association& a = it->second;
    bool keep = true;
    if (!(flags & MSG_EOR) || !a.partial.empty()) {
      if (a.partial.size() + length > kMaxMessage) {
        keep = false;
        spdlog::warn("sctp assoc {}: message longer than {} octets: aborting", info.rcv_assoc_id,
                     kMaxMessage);
      } else {
        a.partial.insert(a.partial.end(), data, data + length);
        if (!(flags & MSG_EOR)) return;
        keep = deliver(a, info, a.partial);
        a.partial.clear();
      }
    } else {
      keep = deliver(a, info, {data, length});
    }
    if (keep) return;
    sink->session_ended(a.session);
    associations.erase(it);
    lock.unlock();
    abort(info.rcv_assoc_id);
  }
};

SctpListener::SctpListener(const std::string& host, uint16_t port, const ListenerOptions& options,
                           MessageSink& sink)
    : context_(new SctpListenerContext) {
  context_->sink = &sink;
  context_->max_sessions = options.max_sessions;
  const uint16_t udp_port = sctp::start_usrsctp(options.sctp_udp_port, options.sctp_raw_ip);
  sockaddr_storage local{};
  socklen_t length = 0;
  resolve(host, port, local, length);

  struct socket* sock =
      usrsctp_socket(local.ss_family, SOCK_SEQPACKET, IPPROTO_SCTP,
                     sctp::receive_into<SctpListenerContext>, nullptr, 0, context_);
  if (sock == nullptr)
    throw std::runtime_error(std::string("usrsctp_socket: ") + std::strerror(errno));
  context_->sock = sock;
  const std::string where = address_text(reinterpret_cast<sockaddr*>(&local));
  try {
    sctp::subscribe_events(sock);
    usrsctp_set_non_blocking(sock, 1);  // sends (send_control) never wait
    const int on = 1;
    sctp::set_option(sock, SCTP_RECVRCVINFO, &on, sizeof on, "SCTP_RECVRCVINFO");
    sctp_initmsg init{};
    init.sinit_num_ostreams = 1;
    init.sinit_max_instreams = options.sctp_streams;
    sctp::set_option(sock, SCTP_INITMSG, &init, sizeof init, "SCTP_INITMSG");
    const int buffer = static_cast<int>(options.receive_buffer_kib * 1024);
    usrsctp_setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    if (usrsctp_bind(sock, reinterpret_cast<sockaddr*>(&local), length) != 0)
      throw std::runtime_error("bind " + where + ": " + std::strerror(errno));
    if (usrsctp_listen(sock, 128) != 0)
      throw std::runtime_error("listen " + where + ": " + std::strerror(errno));
  } catch (const std::exception& e) {
    context_->active = false;
    usrsctp_close(sock);
    throw std::runtime_error(std::string("sctp: ") + e.what());
  }
  description_ =
      "sctp " + where +
      (options.sctp_raw_ip ? " (raw IP)" : " (UDP encapsulation " + std::to_string(udp_port) + ")");
}

bool SctpListener::send_control(uint64_t session, uint32_t ppid, std::span<const uint8_t> bytes) {
  sctp_sndinfo info{};
  struct socket* sock = nullptr;
  {
    std::lock_guard lock(context_->mutex);
    if (!context_->active) return false;
    const auto it = std::find_if(context_->associations.begin(), context_->associations.end(),
                                 [&](const auto& a) { return a.second.session == session; });
    if (it == context_->associations.end()) return false;
    info.snd_assoc_id = it->first;
    sock = context_->sock;
  }
  info.snd_ppid = htonl(ppid);
  info.snd_sid = 0;
  return usrsctp_sendv(sock, bytes.data(), bytes.size(), nullptr, 0, &info, sizeof info,
                       SCTP_SENDV_SNDINFO, 0) >= 0;
}

SctpListener::~SctpListener() {
  struct socket* sock = nullptr;
  {
    std::lock_guard lock(context_->mutex);
    context_->active = false;
    sock = context_->sock;
  }
  usrsctp_close(sock);
}

}  // namespace poolflow::transport
