#include "export/replay_buffer.h"

namespace poolflow::exporter {

void ReplayBuffer::drop_front(RelaxedCounter& reason) {
  entries_.pop_front();
  ++first_;
  reason.add();
}

uint64_t ReplayBuffer::append(const FlowRecord& record, uint64_t now_ms) {
  while (!entries_.empty() && bytes() + sizeof(Entry) > config_.max_bytes)
    drop_front(stats_.evicted_full);
  if (sizeof(Entry) <= config_.max_bytes) {
    entries_.push_back({record, now_ms, State::kept});
  } else {
    ++first_;  // no room at all: kept for no time
    stats_.evicted_full.add();
  }
  publish_size();
  return next_++;
}

void ReplayBuffer::mark(uint64_t begin, uint64_t end, State state) {
  if (begin < first_) begin = first_;
  if (end > next_) end = next_;
  for (uint64_t s = begin; s < end; ++s)
    if (Entry& e = entries_[s - first_]; e.state == State::kept) e.state = state;
  // The oldest leave once done; those after one still kept wait for it.
  while (!entries_.empty() && entries_.front().state != State::kept) {
    if (entries_.front().state == State::confirmed) stats_.confirmed.add();
    entries_.pop_front();
    ++first_;
  }
  publish_size();
}

void ReplayBuffer::confirm(uint64_t begin, uint64_t end) {
  mark(begin, end, State::confirmed);
  stats_.confirmations.add();
}

void ReplayBuffer::drop(uint64_t begin, uint64_t end) { mark(begin, end, State::dropped); }

void ReplayBuffer::expire(uint64_t now_ms) {
  while (!entries_.empty() && now_ms - entries_.front().added_ms >= config_.max_age_ms)
    drop_front(stats_.evicted_old);
  publish_size();
}

}  // namespace poolflow::exporter
