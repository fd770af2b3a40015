#include "export/send_queue.h"

#include <spdlog/spdlog.h>

namespace poolflow::exporter {

namespace {
constexpr uint64_t kDropWarningIntervalMs = 5000;

bool may_age_out(const MessageInfo& info) {
  return !info.templates && info.policy.kind == Reliability::ttl;
}
}  // namespace

void SendQueue::push(std::span<const uint8_t> message, const MessageInfo& info,
                     const MessageContent& content) {
  make_room(message.size());
  queue_.push_back(Queued{{message.begin(), message.end()}, info, content});
  bytes_ += message.size();
  if (may_age_out(info)) ++with_ttl_;
}

void SendQueue::forget(const Queued& q) {
  bytes_ -= q.bytes.size();
  if (may_age_out(q.info)) --with_ttl_;
}

void SendQueue::drop(std::deque<Queued>::iterator it, bool session_failed) {
  const bool kept = it->info.replayable && session_failed;
  if (!kept) stats_.not_sent(it->info, it->content);
  if (it->info.replayable && on_replayable_dropped) on_replayable_dropped(it->content, !kept);
  forget(*it);
  queue_.erase(it);
}

void SendQueue::clear() {
  for (const Queued& q : queue_)
    if (!q.info.replayable) stats_.not_sent(q.info, q.content);
  queue_.clear();
  bytes_ = 0;
  with_ttl_ = 0;
}

void SendQueue::make_room(size_t bytes) {
  for (const bool reliable : {false, true}) {
    for (size_t i = 0; i < queue_.size() && bytes_ + bytes > max_bytes_;) {
      const Queued& q = queue_[i];
      if (q.info.templates || (q.info.policy.kind == Reliability::reliable) != reliable) {
        ++i;
        continue;
      }
      const uint64_t now = steady_ms();
      if (now - last_drop_warning_ms_ >= kDropWarningIntervalMs) {
        spdlog::warn(
            "{}: send queue full: dropping {} records ({} records not sent so far, "
            "{} of them reliable)",
            output_, reliable ? "reliable" : "best-effort",
            stats_.records_not_sent.get() + q.content.records,
            stats_.reliable_records_not_sent.get() + (reliable ? q.content.records : 0));
        last_drop_warning_ms_ = now;
      }
      drop(queue_.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
}

void SendQueue::age_out() {
  const uint64_t now = steady_ms();
  if (with_ttl_ == 0 || now == aged_out_scan_ms_) return;
  aged_out_scan_ms_ = now;
  std::erase_if(queue_, [&](const Queued& q) {
    const bool expired = may_age_out(q.info) && now - q.info.completed_ms >= q.info.policy.value;
    if (expired) {
      stats_.not_sent(q.info, q.content);  // ttl messages are never replayable
      forget(q);
    }
    return expired;
  });
}

void SendQueue::drain(Transport& transport) {
  // usrsctp does not abandon data still in its send buffer when a lifetime
  // expires: best-effort messages age out here, before they reach it.
  age_out();
  while (!queue_.empty()) {
    Queued& head = queue_.front();
    const SendResult result = transport.send(head.bytes, head.info);
    if (result == SendResult::would_block) return;
    if (result == SendResult::failed) {
      drop(queue_.begin(), true);
      continue;
    }
    if (result == SendResult::sent) stats_.sent(head.bytes.size(), head.content);
    forget(head);  // held: counted by the exporter from the transport's held_outcome()
    queue_.pop_front();
  }
}

}  // namespace poolflow::exporter
