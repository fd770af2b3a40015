#include "transport/sctp/sctp_transport.h"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "poolflow/clock.h"
#include "poolflow/counter.h"
#include "poolflow/listener.h"
#include "transport/common/socket_address.h"
#include "transport/sctp/usrsctp_stack.h"

namespace poolflow::transport {

namespace {

constexpr int kConnecting = 0, kUp = 1, kDown = 2;
// SCTP common header, DATA chunk header, UDP header and an IPv6 header.
constexpr uint32_t kPacketOverhead = 12 + 16 + 8 + 40;
constexpr int kShutdownWaitMs = 300;
// No send callback for this long: no SACK is on its way (nothing in flight, or
// the peer is silent), so the sending thread hands the ring to usrsctp itself.
constexpr uint64_t kSackClockStoppedNs = 300'000;

using AssociationState = SctpTransport::AssociationState;
SendResult send_message(struct socket* sock, uint16_t streams, std::span<const uint8_t> message,
                        const MessageInfo& info) {
  sctp_sendv_spa spa{};
  spa.sendv_flags = SCTP_SEND_SNDINFO_VALID;
  spa.sendv_sndinfo.snd_sid = info.stream < streams ? info.stream : 0;
  // What a SEND_FAILED hands back: the message's records, plus one (0 is a
  // control message's, send_control).
  spa.sendv_sndinfo.snd_context = info.records + 1;
  if (!info.templates && info.policy.kind != Reliability::reliable) {
    spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
    spa.sendv_prinfo.pr_policy =
        info.policy.kind == Reliability::ttl ? SCTP_PR_SCTP_TTL : SCTP_PR_SCTP_RTX;
    spa.sendv_prinfo.pr_value = info.policy.value;
    // A lifetime counts from when the exporter completed the message: what it
    // spent queued here is taken off what usrsctp gets (at least 1 ms).
    if (info.policy.kind == Reliability::ttl && info.completed_ms != 0) {
      const uint64_t waited = steady_ms() - info.completed_ms;
      spa.sendv_prinfo.pr_value =
          waited < info.policy.value ? static_cast<uint32_t>(info.policy.value - waited) : 1;
    }
  }
  const ssize_t sent = usrsctp_sendv(sock, message.data(), message.size(), nullptr, 0, &spa,
                                     sizeof spa, SCTP_SENDV_SPA, 0);
  if (sent >= 0) return SendResult::sent;
  if (errno == EWOULDBLOCK || errno == EAGAIN) return SendResult::would_block;
  return SendResult::failed;
}

// Sets the association's state and tells the transport's owner of a change.
void set_state(SctpTransport::AssociationState& association, int state) {
  if (association.state.exchange(state) == state) return;
  // Two usrsctp threads may notify at once (receive and timer): one at a time.
  while (association.notifying.test_and_set(std::memory_order_acquire)) std::this_thread::yield();
  if (TransportEvents* events = association.events.load(std::memory_order_relaxed))
    (*events)(state == kUp);
  association.notifying.clear(std::memory_order_release);
}

// A callback inside a state: false when the state now serves another socket
// (it was recycled after its socket was closed), and the callback must leave it.
class CallbackScope {
 public:
  CallbackScope(AssociationState& a, struct socket* sock) : a_(a) {
    a_.callbacks.fetch_add(1);
    mine_ = a_.socket.load() == sock;
  }
  ~CallbackScope() { a_.callbacks.fetch_sub(1); }
  bool mine() const { return mine_; }

 private:
  AssociationState& a_;
  bool mine_ = false;
};

const char* path_state(uint32_t state) {
  switch (state) {
    case SCTP_ADDR_AVAILABLE:
      return "available";
    case SCTP_ADDR_UNREACHABLE:
      return "unreachable";
    case SCTP_ADDR_REMOVED:
      return "removed";
    case SCTP_ADDR_ADDED:
      return "added";
    case SCTP_ADDR_MADE_PRIM:
      return "made primary";
    case SCTP_ADDR_CONFIRMED:
      return "confirmed";
    default:
      return "changed";
  }
}

void on_notification(AssociationState& a, const sctp_notification& n, size_t length) {
  switch (n.sn_header.sn_type) {
    case SCTP_ASSOC_CHANGE: {
      const sctp_assoc_change& change = n.sn_assoc_change;
      if (change.sac_state == SCTP_RESTART) {
        // The peer restarted: a new transport session, templates again.
        a.restarts.fetch_add(1);
        spdlog::warn("{}: the collector restarted the SCTP association: a new transport session",
                     a.name);
      }
      if (change.sac_state == SCTP_COMM_UP || change.sac_state == SCTP_RESTART) {
        a.outbound_streams.store(change.sac_outbound_streams);
        set_state(a, kUp);
      } else {
        set_state(a, kDown);  // COMM_LOST, SHUTDOWN_COMP, CANT_STR_ASSOC
      }
      break;
    }
    case SCTP_SHUTDOWN_EVENT:
      set_state(a, kDown);
      break;
    case SCTP_SEND_FAILED_EVENT:
      if (const uint32_t context = n.sn_send_failed_event.ssfe_info.snd_context;
          length >= sizeof(sctp_send_failed_event) && context != 0)
        a.returned_records.fetch_add(context - 1);
      break;
    case SCTP_PEER_ADDR_CHANGE:
      spdlog::info("{}: path to the collector {} (error {})", a.name,
                   path_state(n.sn_paddr_change.spc_state), n.sn_paddr_change.spc_error);
      break;
    default:
      break;
  }
}

// A message of the peer's: ASAP (a collector's storage confirmation) is kept
// for the exporter, the latest few; anything else has no business here.
constexpr size_t kControlMessagesKept = 16;
constexpr size_t kControlMessageMax = 65535;

void on_peer_message(AssociationState& a, const void* data, size_t length, const sctp_rcvinfo& info,
                     int flags) {
  if (ntohl(info.rcv_ppid) != kSctpPpidAsap || !(flags & MSG_EOR) || length > kControlMessageMax)
    return;
  const auto* bytes = static_cast<const uint8_t*>(data);
  const std::lock_guard lock(a.control_mutex);
  if (a.control.size() >= kControlMessagesKept) a.control.pop_front();
  a.control.emplace_back(bytes, bytes + length);
  a.control_waiting.store(true, std::memory_order_release);
}

int on_receive(struct socket* sock, union sctp_sockstore, void* data, size_t length,
               struct sctp_rcvinfo info, int flags, void* context) {
  auto& association = *static_cast<AssociationState*>(context);
  const CallbackScope scope(association, sock);
  if (data == nullptr) {  // the association is gone
    if (scope.mine()) set_state(association, kDown);
    return 1;
  }
  if (scope.mine()) {
    if (flags & MSG_NOTIFICATION) {
      if (length >= sizeof(sctp_notification::sctp_tlv))
        on_notification(association, *static_cast<const sctp_notification*>(data), length);
    } else {
      on_peer_message(association, data, length, info, flags);
    }
  }
  std::free(data);
  return 1;
}

// Called by usrsctp's receive thread once a SACK freed room in the send buffer
// (the association's lock is not held then): the ring's messages go out from
// here, so that the sending thread and this one do not take turns at that lock
// for every message.
int on_send_space(struct socket* sock, uint32_t, void* context) {
  auto& association = *static_cast<AssociationState*>(context);
  const CallbackScope scope(association, sock);
  if (!scope.mine()) return 1;
  association.last_sack_ns.store(steady_ns(), std::memory_order_relaxed);
  SctpTransport::pump(association);
  return 1;
}

// States whose sockets are closed, to be reused (see AssociationState).
std::mutex g_states_mutex;
std::vector<AssociationState*> g_free_states;
size_t g_states = 0;

AssociationState* acquire_state(const std::string& name) {
  AssociationState* a = nullptr;
  {
    const std::lock_guard lock(g_states_mutex);
    if (!g_free_states.empty()) {
      a = g_free_states.back();
      g_free_states.pop_back();
    } else {
      a = new AssociationState;
      ++g_states;
    }
  }
  a->state.store(kConnecting);
  a->outbound_streams.store(0);
  a->restarts.store(0);
  a->ring.store(nullptr);
  a->pumping.clear();
  a->pump_missed.store(false);
  a->last_sack_ns.store(0);
  a->events.store(nullptr);
  a->notifying.clear();
  a->name = name;
  {
    const std::lock_guard lock(a->control_mutex);
    a->control.clear();
    a->control_waiting.store(false);
  }
  a->returned_records.store(0);
  return a;
}

// After usrsctp_close: no callback of the closed socket uses the state once
// this returns (those that come later find it is not theirs).
void retire_state(AssociationState* a) {
  a->socket.store(nullptr);
  while (a->callbacks.load() != 0) std::this_thread::yield();
  const std::lock_guard lock(g_states_mutex);
  g_free_states.push_back(a);
}

}  // namespace

// Messages between send() (one producer, the sending thread) and pump() (one
// consumer at a time: usrsctp's receive thread in the send callback, or the
// sending thread when no SACK is coming). Fixed size, allocated once.
class SctpTransport::SendRing {
 public:
  static constexpr uint32_t kMessages = 256;  // a power of two: indexes wrap with uint32_t

  SendRing(struct socket* sock, size_t max_message)
      : sock_(sock), max_message_(max_message), bytes_(kMessages * max_message) {}

  void set_streams(uint16_t streams) { streams_ = streams; }
  size_t max_message() const { return max_message_; }

  bool empty() const {
    return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire);
  }

  /// Producer: false when full.
  bool push(std::span<const uint8_t> message, const MessageInfo& info) {
    const uint32_t head = head_.load(std::memory_order_relaxed);
    if (head - tail_.load(std::memory_order_acquire) == kMessages) return false;
    const uint32_t i = head % kMessages;
    std::memcpy(&bytes_[i * max_message_], message.data(), message.size());
    slots_[i] = {info, static_cast<uint32_t>(message.size())};
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  /// Consumer (under AssociationState::pumping): sends until usrsctp takes no
  /// more; ttl messages past their lifetime are dropped instead, as the export
  /// session's own queue does (usrsctp would send them: it abandons only data
  /// already sent). With `abandon`, what usrsctp does not take is dropped too.
  void pump(bool abandon = false) {
    uint32_t tail = tail_.load(std::memory_order_relaxed);
    const uint32_t head = head_.load(std::memory_order_acquire);
    uint64_t now = 0;
    for (; tail != head; ++tail) {
      const uint32_t i = tail % kMessages;
      const Slot& slot = slots_[i];
      bool expired = false;
      if (!slot.info.templates && slot.info.policy.kind == Reliability::ttl &&
          slot.info.completed_ms != 0) {
        if (now == 0) now = steady_ms();
        expired = now - slot.info.completed_ms >= slot.info.policy.value;
      }
      const SendResult result =
          expired
              ? SendResult::failed
              : send_message(sock_, streams_, {&bytes_[i * max_message_], slot.length}, slot.info);
      if (result == SendResult::sent)
        count_sent(slot);
      else if (result == SendResult::failed || abandon)
        count_dropped(slot);
      else
        break;  // would block: the rest waits for room
      // Each slot is given back at once, so that the producer can refill it
      // while a long pump goes on.
      tail_.store(tail + 1, std::memory_order_release);
    }
  }

  /// Any thread: the totals, read in the opposite order to their writing
  /// (message counts, then the other counts, then the window), so that each
  /// field read is at least as new as those read before it.
  HeldOutcome outcome() const {
    HeldOutcome o;
    o.sent_messages = sent_messages_.get();
    o.dropped_messages = dropped_messages_.get();
    std::atomic_thread_fence(std::memory_order_acquire);
    o.sent_bytes = sent_bytes_.get();
    o.sent_records = sent_records_.get();
    o.dropped_records = dropped_records_.get();
    o.dropped_packets = dropped_packets_.get();
    o.dropped_octets = dropped_octets_.get();
    o.dropped_reliable_records = dropped_reliable_records_.get();
    std::atomic_thread_fence(std::memory_order_acquire);
    o.first_dropped_ms = first_dropped_ms_.get();
    o.last_dropped_ms = last_dropped_ms_.get();
    return o;
  }

 private:
  struct Slot {
    MessageInfo info;
    uint32_t length = 0;
  };

  void count_sent(const Slot& slot) {
    sent_bytes_.add(slot.length);
    sent_records_.add(slot.info.records);
    std::atomic_thread_fence(std::memory_order_release);
    sent_messages_.add();
  }

  // The window first, the counts after it, the message count last: a reader
  // that sees a count also sees the window that goes with it (outcome()).
  void count_dropped(const Slot& slot) {
    if (slot.info.replayable) return;  // its records are exported again: no loss
    if (slot.info.records != 0) {
      const uint64_t now = unix_ms();
      if (first_dropped_ms_.get() == 0) first_dropped_ms_.raise_to(now);
      last_dropped_ms_.raise_to(now);
      std::atomic_thread_fence(std::memory_order_release);
    }
    dropped_records_.add(slot.info.records);
    dropped_packets_.add(slot.info.packets);
    dropped_octets_.add(slot.info.octets);
    if (slot.info.policy.kind == Reliability::reliable)
      dropped_reliable_records_.add(slot.info.records);
    std::atomic_thread_fence(std::memory_order_release);
    dropped_messages_.add();
  }

  struct socket* sock_;
  const size_t max_message_;
  uint16_t streams_ = 0;
  std::vector<uint8_t> bytes_;
  Slot slots_[kMessages];
  alignas(64) std::atomic<uint32_t> head_{0};
  alignas(64) std::atomic<uint32_t> tail_{0};
  // Written by whichever thread pumps (one at a time), read by any.
  RelaxedCounter sent_messages_, sent_bytes_, sent_records_, dropped_messages_, dropped_records_,
      dropped_packets_, dropped_octets_, dropped_reliable_records_, first_dropped_ms_,
      last_dropped_ms_;
};

void SctpTransport::pump(AssociationState& a) {
  // Whoever finds another thread pumping leaves a note, and that thread goes
  // round once more, so that no message waits for the next SACK.
  for (;;) {
    a.pump_missed.store(true);
    if (a.pumping.test_and_set()) return;
    a.pump_missed.exchange(false, std::memory_order_acq_rel);
    if (SendRing* ring = a.ring.load()) ring->pump();
    a.pumping.clear();
    if (!a.pump_missed.load()) return;
  }
}

void SctpTransport::abandon() {
  if (!ring_) return;
  pump(*association_);
  while (association_->pumping.test_and_set()) std::this_thread::yield();
  ring_->pump(true);
  association_->pumping.clear();
}

SctpTransport::SctpTransport(std::string name, const std::string& host, uint16_t port,
                             const TransportOptions& options, Connect connect,
                             TransportEvents events)
    : name_(std::move(name)),
      association_(acquire_state(name_)),
      connect_timeout_ms_(options.sctp.connect_timeout_ms) {
  if (events) {
    events_ = std::make_unique<TransportEvents>(std::move(events));
    association_->events.store(events_.get());
  }
  const TransportOptions::Sctp& o = options.sctp;
  sctp::start_usrsctp(o.local_udp_port, o.raw_ip);
  sockaddr_storage peer{};
  socklen_t peer_length = 0;
  resolve(host, port, peer, peer_length);
  peer_ = host + ":" + std::to_string(port) +
          (o.raw_ip ? "" : " (UDP encapsulation port " + std::to_string(o.remote_udp_port) + ")");

  sock_ = usrsctp_socket(peer.ss_family, SOCK_STREAM, IPPROTO_SCTP, on_receive,
                         o.sack_clocked_sends ? on_send_space : nullptr, 0, association_);
  if (sock_ == nullptr) {
    const int error = errno;
    release_events();
    retire_state(association_);
    throw std::runtime_error(name_ + ": usrsctp_socket: " + std::strerror(error));
  }
  association_->socket.store(sock_);
  try {
    if (!o.raw_ip) sctp::set_remote_udp_port(sock_, peer.ss_family, o.remote_udp_port);
    sctp::subscribe_events(sock_, true);
    const int on_rcvinfo = 1;  // the PPID of what the collector sends (ASAP)
    sctp::set_option(sock_, SCTP_RECVRCVINFO, &on_rcvinfo, sizeof on_rcvinfo, "SCTP_RECVRCVINFO");
    // Set before connect so the association has them.
    sctp::set_liveness(sock_, {o.rto_initial_ms, o.rto_min_ms, o.rto_max_ms, o.max_retransmissions,
                               o.heartbeat_interval_ms});
    sctp_initmsg init{};
    init.sinit_num_ostreams = o.streams;
    init.sinit_max_instreams = o.streams;
    sctp::set_option(sock_, SCTP_INITMSG, &init, sizeof init, "SCTP_INITMSG");
    const int on = 1;
    sctp::set_option(sock_, SCTP_NODELAY, &on, sizeof on, "SCTP_NODELAY");
    const int send_buffer = static_cast<int>(o.send_buffer_kib * 1024);
    usrsctp_setsockopt(sock_, SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof send_buffer);
    usrsctp_set_non_blocking(sock_, 1);
    if (o.sack_clocked_sends) {
      ring_ = std::make_unique<SendRing>(sock_, options.max_message_size);
      association_->ring.store(ring_.get());
    }

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
    release_ring();
    release_events();
    usrsctp_close(sock_);
    retire_state(association_);
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
  if (ring_) ring_->set_streams(streams_);
  up_ = true;
  spdlog::info("{}: SCTP association up, {} outbound streams, PR-SCTP per message", name_,
               streams_);
  return true;
}

void SctpTransport::release_ring() {
  if (!ring_) return;
  // Callbacks may still come: they find no ring once none of them is inside it.
  association_->ring.store(nullptr);
  while (association_->pumping.test_and_set()) std::this_thread::yield();
  association_->pumping.clear();
}

void SctpTransport::release_events() {
  while (association_->notifying.test_and_set(std::memory_order_acquire)) std::this_thread::yield();
  association_->events.store(nullptr, std::memory_order_relaxed);
  association_->notifying.clear(std::memory_order_release);
}

SctpTransport::~SctpTransport() {
  release_ring();
  release_events();
  // Graceful SHUTDOWN so that the collector ends the session at once; wait a
  // little for SHUTDOWN-COMPLETE, as the process may exit right after.
  if (association_->state.load() == kUp) {
    usrsctp_shutdown(sock_, SHUT_WR);
    for (int i = 0; i < kShutdownWaitMs && association_->state.load() == kUp; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  usrsctp_close(sock_);
  retire_state(association_);
}

bool SctpTransport::receive_control(std::vector<uint8_t>& message) {
  AssociationState& a = *association_;
  if (!a.control_waiting.load(std::memory_order_acquire)) return false;
  const std::lock_guard lock(a.control_mutex);
  if (a.control.empty()) return false;
  message = std::move(a.control.front());
  a.control.pop_front();
  if (a.control.empty()) a.control_waiting.store(false, std::memory_order_relaxed);
  return true;
}

bool SctpTransport::send_control(std::span<const uint8_t> message, uint32_t ppid) {
  if (association_->state.load() != kUp) return false;
  sctp_sndinfo info{};
  info.snd_sid = 0;
  info.snd_ppid = htonl(ppid);
  return usrsctp_sendv(sock_, message.data(), message.size(), nullptr, 0, &info, sizeof info,
                       SCTP_SENDV_SNDINFO, 0) >= 0;
}

size_t SctpTransport::association_states() {
  const std::lock_guard lock(g_states_mutex);
  return g_states;
}

uint32_t SctpTransport::session_epoch() const { return association_->restarts.load(); }

SendResult SctpTransport::send(std::span<const uint8_t> message, const MessageInfo& info) {
  if (association_->state.load(std::memory_order_relaxed) != kUp) {
    if (ring_) pump(*association_);  // what it still holds fails and is counted
    return SendResult::failed;
  }
  if (!ring_) return send_message(sock_, streams_, message, info);
  if (message.size() > ring_->max_message()) return SendResult::failed;  // longer than the path MTU
  const bool sack_clock_stopped =
      steady_ns() - association_->last_sack_ns.load(std::memory_order_relaxed) >
      kSackClockStoppedNs;
  if (!ring_->push(message, info)) {
    if (!sack_clock_stopped) return SendResult::would_block;
    pump(*association_);
    if (!ring_->push(message, info)) return SendResult::would_block;
  }
  if (sack_clock_stopped) pump(*association_);
  return SendResult::held;
}

void SctpTransport::poll() {
  if (ring_ && !ring_->empty()) pump(*association_);
}

HeldOutcome SctpTransport::held_outcome() const {
  HeldOutcome o = ring_ ? ring_->outcome() : HeldOutcome{};
  o.returned_records = association_->returned_records.load();
  return o;
}

bool SctpTransport::drained() const {
  if (association_->state.load() != kUp) return true;  // nothing more will leave
  if (ring_ && !ring_->empty()) return false;
  sctp_status status{};
  socklen_t length = sizeof status;
  if (usrsctp_getsockopt(sock_, IPPROTO_SCTP, SCTP_STATUS, &status, &length) != 0) return true;
  return status.sstat_unackdata == 0 && status.sstat_penddata == 0;
}

bool SctpTransport::flush() {
  // Room freed by a timer or a PR-SCTP abandonment brings no send callback, nor
  // does a message pushed just after the last SACK of an idle association.
  poll();
  return association_->state.load() == kUp;
}

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
