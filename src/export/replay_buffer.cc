#include "export/replay_buffer.h"

#include <algorithm>

namespace poolflow::exporter {

void ReplayBuffer::pop_front() {
  head_ = slot(1);
  --size_;
  ++first_;
}

void ReplayBuffer::release_done() {
  // The oldest leave once done; those after one still kept wait for it.
  while (size_ != 0 && at(first_).state != State::kept) {
    if (at(first_).state == State::confirmed) stats_.confirmed.add();
    pop_front();
  }
}

void ReplayBuffer::drop_front(RelaxedCounter& reason) {
  pop_front();
  reason.add();
  release_done();
}

uint64_t ReplayBuffer::append(const FlowRecord& record, uint64_t now_ms) {
  const size_t most = config_.max_bytes / sizeof(Entry);
  if (most == 0) {  // no room at all: kept for no time
    ++first_;
    stats_.evicted_full.add();
    return next_++;
  }
  if (size_ == ring_.size() && ring_.size() < most) {
    std::vector<Entry> grown(std::min(most, std::max<size_t>(64, 2 * ring_.size())));
    for (size_t i = 0; i < size_; ++i) grown[i] = ring_[slot(i)];
    ring_ = std::move(grown);
    head_ = 0;
  }
  while (size_ == ring_.size()) drop_front(stats_.evicted_full);
  ring_[slot(size_)] = {record, now_ms, State::kept};
  ++size_;
  publish_size();
  return next_++;
}

void ReplayBuffer::mark(uint64_t begin, uint64_t end, State state) {
  begin = std::max(begin, first_);
  end = std::min(end, next_);
  for (uint64_t s = begin; s < end; ++s)
    if (Entry& e = at(s); e.state == State::kept) e.state = state;
  release_done();
  publish_size();
}

void ReplayBuffer::confirm(uint64_t begin, uint64_t end) {
  mark(begin, end, State::confirmed);
  stats_.confirmations.add();
}

void ReplayBuffer::drop(uint64_t begin, uint64_t end) { mark(begin, end, State::dropped); }

void ReplayBuffer::expire(uint64_t now_ms) {
  while (size_ != 0 && now_ms - at(first_).added_ms >= config_.max_age_ms)
    drop_front(stats_.evicted_old);
  publish_size();
}

}  // namespace poolflow::exporter
