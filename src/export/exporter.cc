#include "export/exporter.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <thread>

#include "poolflow/listener.h"
#include "rserpool/codec.h"
#include "rserpool/storage_cookie.h"

namespace poolflow::exporter {

namespace {
constexpr uint64_t kDropWarningIntervalMs = 5000;

MessageBuilderConfig builder_config(const ExporterConfig& c) {
  return {c.observation_domain, c.max_message_length, c.tcp_flows, c.other_flows,
          c.templates_on_stream_zero};
}
}  // namespace

void MeteringSnapshot::publish(const MeteringReliability& m) {
  const uint32_t s = sequence_.load(std::memory_order_relaxed);
  sequence_.store(s + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  ignored_packets_.store(m.ignored_packets, std::memory_order_relaxed);
  ignored_octets_.store(m.ignored_octets, std::memory_order_relaxed);
  first_ms_.store(m.first_ignored_ms, std::memory_order_relaxed);
  last_ms_.store(m.last_ignored_ms, std::memory_order_relaxed);
  sequence_.store(s + 2, std::memory_order_release);
}

MeteringReliability MeteringSnapshot::read() const {
  MeteringReliability m;
  for (;;) {
    const uint32_t before = sequence_.load(std::memory_order_acquire);
    m.ignored_packets = ignored_packets_.load(std::memory_order_relaxed);
    m.ignored_octets = ignored_octets_.load(std::memory_order_relaxed);
    m.first_ignored_ms = first_ms_.load(std::memory_order_relaxed);
    m.last_ignored_ms = last_ms_.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (before % 2 == 0 && sequence_.load(std::memory_order_relaxed) == before) return m;
  }
}

Exporter::Exporter(std::unique_ptr<Transport> transport, ExporterConfig config)
    : Exporter(std::move(transport), std::move(config), false) {}

Exporter::Exporter(std::unique_ptr<Transport> transport, ExporterConfig config, bool awaiting)
    : transport_(std::move(transport)),
      output_(transport_->name()),
      config_(std::move(config)),
      builder_(builder_config(config_), *this, stats_),
      queue_(output_, config_.send_queue_bytes, stats_),
      awaiting_(awaiting),
      statistics_sent_ms_(steady_ms()),
      now_ms_(steady_ms()) {
  if (config_.replay_buffer_bytes != 0) {
    const ReliabilityPolicy* classes[] = {&config_.tcp_flows, &config_.other_flows};
    for (size_t c = 0; c < replay_.size(); ++c)
      if (classes[c]->kind == Reliability::reliable)
        replay_[c] = std::make_unique<ReplayBuffer>(
            ReplayBufferConfig{config_.replay_buffer_bytes, config_.replay_buffer_ms});
    queue_.on_replayable_dropped = [this](const MessageContent& c, bool lost) {
      forget_sent(c);
      if (lost) replay_[c.channel]->drop(c.replay_begin, c.replay_end);
    };
  }
  start_transport_session();
}

namespace {
// Stands in for the transport of an exporter awaiting its first one; nothing
// is ever sent to it (the exporter holds records instead).
class NoTransport final : public Transport {
 public:
  explicit NoTransport(std::string name) : name_(std::move(name)) {}
  SendResult send(std::span<const uint8_t>, const MessageInfo&) override {
    return SendResult::would_block;
  }
  bool flush() override { return false; }
  const std::string& name() const override { return name_; }

 private:
  std::string name_;
};
}  // namespace

Exporter::Exporter(std::string output, ExporterConfig config)
    : Exporter(std::make_unique<NoTransport>(std::move(output)), std::move(config), true) {}

Exporter::~Exporter() { delete incoming_.load(); }

bool Exporter::take_first_transport(uint32_t now_s) {
  if (incoming_.load(std::memory_order_acquire) == nullptr) return false;
  awaiting_.store(false, std::memory_order_relaxed);
  adopt_new_transport();
  if (!backlog_.empty())
    spdlog::info("{}: sending the {} records that waited for it", transport_->name(),
                 backlog_.size());
  for (const FlowRecord& record : std::exchange(backlog_, {})) add(record, now_s);
  return true;
}

void Exporter::hold(const FlowRecord& record) {
  if (backlog_.size() * sizeof(FlowRecord) < config_.send_queue_bytes) {
    backlog_.push_back(record);
    return;
  }
  stats_.record_not_sent(record, builder_.configured_reliable(record));
  const uint64_t now = steady_ms();
  if (now - last_drop_warning_ms_ >= kDropWarningIntervalMs) {
    spdlog::warn("{}: no collector yet and {} records waiting: dropping ({} not sent so far)",
                 output_, backlog_.size(), stats_.records_not_sent.get());
    last_drop_warning_ms_ = now;
  }
}

void Exporter::replace_transport(std::unique_ptr<Transport> transport) {
  delete incoming_.exchange(transport.release(), std::memory_order_acq_rel);
}

void Exporter::adopt_new_transport() {
  Transport* incoming = incoming_.exchange(nullptr, std::memory_order_acq_rel);
  if (incoming == nullptr) {
    if (transport_->session_epoch() != epoch_) start_transport_session();
    return;
  }
  spdlog::info("export: switching from {} to {}", transport_->name(), incoming->name());
  take_control_messages();  // the old collector's last word on what it stored
  transport_->abandon();    // what it still holds goes, or is dropped and counted
  abandoned_by_old_transports_ += transport_->abandoned_messages();
  collect_held_outcome();
  transport_.reset(incoming);
  held_seen_ = {};
  start_transport_session();
}

void Exporter::start_transport_session() {
  queue_.clear();  // encoded for the session that ended
  // What the collector of the session that ended did not confirm goes again,
  // as replayed records, behind what is being built now.
  sent_.clear();
  session_confirms_ = false;
  for (size_t c = 0; c < replay_.size(); ++c) {
    if (!replay_[c]) continue;
    replay_cursor_[c] = replay_[c]->first_serial();
    replay_to_[c] = submitted_end_[c];
    if (replay_to_[c] <= replay_cursor_[c]) continue;
    replay_pending_ = true;
    spdlog::info(
        "{}: {} records of the earlier transport session were not confirmed stored: "
        "exporting them again",
        transport_->name(), replay_to_[c] - replay_cursor_[c]);
  }
  const TransportTraits traits = transport_->traits();
  epoch_ = transport_->session_epoch();
  const bool awaiting = awaiting_.load(std::memory_order_relaxed);
  if (!awaiting) stats_.transport_sessions.add();
  transport_up_.store(!awaiting, std::memory_order_relaxed);
  // A collector taking over learns where the one before stopped (the draft's
  // COOKIE_ECHO), before any IPFIX of the new session.
  if (!awaiting && !last_cookie_.empty()) {
    rserpool::Message echo = rserpool::Message::asap(rserpool::AsapType::cookie_echo);
    echo.cookie = last_cookie_;
    if (transport_->send_control(rserpool::encode(echo), kSctpPpidAsap)) stats_.cookie_echoes.add();
  }
  if (traits.streams && traits.stream_count < 3)
    spdlog::info("{}: {} outbound stream(s): data of both classes on stream {}", transport_->name(),
                 traits.stream_count, traits.stream_count > 0 ? traits.stream_count - 1 : 0);
  builder_.start(traits);
}

void Exporter::collect_held_outcome() {
  // Field by field: a total read while the transport updates it is caught up at
  // the next call.
  const HeldOutcome now = transport_->held_outcome();
  HeldOutcome& seen = held_seen_;
  stats_.messages_sent.add(now.sent_messages - seen.sent_messages);
  stats_.octets_sent.add(now.sent_bytes - seen.sent_bytes);
  stats_.records_sent.add(now.sent_records - seen.sent_records);
  stats_.messages_not_sent.add(now.dropped_messages - seen.dropped_messages);
  stats_.records_not_sent.add(now.dropped_records - seen.dropped_records);
  stats_.packets_not_sent.add(now.dropped_packets - seen.dropped_packets);
  stats_.octets_not_sent.add(now.dropped_octets - seen.dropped_octets);
  stats_.reliable_records_not_sent.add(now.dropped_reliable_records -
                                       seen.dropped_reliable_records);
  stats_.not_sent_window.merge({now.first_dropped_ms, now.last_dropped_ms});
  // Counted as sent when the transport took them, and not known to have
  // arrived: shown apart (the replay buffer is what makes reliable ones arrive).
  stats_.records_returned.add(now.returned_records - seen.returned_records);
  seen = now;
}

void Exporter::before_data_message() {
  if (!queue_.empty()) queue_.drain(*transport_);
  adopt_new_transport();
}

void Exporter::submit(std::span<const uint8_t> message, const MessageInfo& message_info,
                      const MessageContent& content) {
  MessageInfo info = message_info;
  info.completed_ms = steady_ms();
  info.records = content.records;
  info.packets = content.packets;
  info.octets = content.octets;
  info.replayable = content.replay_end > content.replay_begin;
  if (info.replayable) {
    submitted_end_[content.channel] = std::max(submitted_end_[content.channel], content.replay_end);
    sent_.push_back({info.stream, content.channel, content.sequence_end, content.replay_begin,
                     content.replay_end});
  }
  if (queue_.empty()) {
    switch (transport_->send(message, info)) {
      case SendResult::sent:
        stats_.sent(message.size(), content);
        return;
      case SendResult::held:  // counted by collect_held_outcome()
        return;
      case SendResult::failed:
        // No transport session: replayable records go on the next one.
        if (info.replayable)
          forget_sent(content);
        else
          stats_.not_sent(info, content);
        return;
      case SendResult::would_block:
        break;
    }
  }
  queue_.push(message, info, content);
}

void Exporter::forget_sent(const MessageContent& content) {
  // Its records stay unconfirmed (and are replayed after a failover).
  for (auto it = sent_.rbegin(); it != sent_.rend(); ++it)
    if (it->channel == content.channel && it->replay_begin == content.replay_begin &&
        it->replay_end == content.replay_end) {
      sent_.erase(std::next(it).base());
      return;
    }
}

void Exporter::take_control_messages() {
  while (transport_->receive_control(control_)) {
    const rserpool::DecodeResult r = rserpool::decode(rserpool::Protocol::asap, control_);
    if (r.error != rserpool::DecodeError::none || !r.message.is(rserpool::AsapType::cookie)) {
      spdlog::warn("{}: ASAP message from the collector ignored: {}", transport_->name(),
                   r.error != rserpool::DecodeError::none ? r.detail : "not a COOKIE");
      continue;
    }
    last_cookie_ = *r.message.cookie;
    stats_.storage_confirmations.add();
    const auto cookie = rserpool::decode_storage_cookie(last_cookie_);
    if (!cookie || !replays()) continue;  // another collector's cookie: echoed only
    session_confirms_ = true;
    for (const rserpool::StoredPosition& p : cookie->positions)
      if (p.domain == config_.observation_domain) confirm_stored(p.stream, p.next_sequence);
  }
}

void Exporter::confirm_stored(uint16_t stream, uint32_t next_sequence) {
  std::erase_if(sent_, [&](const SentMessage& m) {
    // Sequence numbers wrap (RFC 7011 §3.1): compared by their difference.
    if (m.stream != stream || static_cast<int32_t>(m.sequence_end - next_sequence) > 0)
      return false;
    replay_[m.channel]->confirm(m.replay_begin, m.replay_end);
    return true;
  });
}

void Exporter::replay_slice(uint32_t now_s) {
  // A slice at a time while the transport takes what it is given: the send
  // queue is bounded, and new records keep coming meanwhile.
  constexpr uint64_t kSlice = 512;
  if (!queue_.empty()) return;  // still pending
  replay_pending_ = false;
  bool more = false;
  for (size_t c = 0; c < replay_.size(); ++c) {
    if (!replay_[c]) continue;
    uint64_t& cursor = replay_cursor_[c];
    cursor = std::max(cursor, replay_[c]->first_serial());
    const uint64_t end = std::min(replay_to_[c], cursor + kSlice);
    const uint64_t from = cursor;
    cursor = end;  // before adding: a new transport session may start meanwhile
    uint64_t replayed = 0;
    replay_[c]->for_each(from, end, [&](const FlowRecord& record, uint64_t serial) {
      builder_.add(record, now_s, serial, true);
      ++replayed;
    });
    replay_[c]->count_replayed(replayed);
    more |= replay_cursor_[c] < replay_to_[c];
  }
  if (more) replay_pending_ = true;  // (a new transport session may have set it too)
}

void Exporter::add(const FlowRecord& record, uint32_t now_s) {
  if (awaiting_.load(std::memory_order_relaxed) && !take_first_transport(now_s)) [[unlikely]] {
    hold(record);
    return;
  }
  if (replay_pending_) [[unlikely]]
    replay_slice(now_s);
  if (ReplayBuffer* kept = replay_[MessageBuilder::class_of(record)].get())
    builder_.add(record, now_s, kept->append(record, now_ms_));
  else
    builder_.add(record, now_s);
}

ReplayTotals Exporter::replay_totals() const {
  ReplayTotals t;
  for (const auto& buffer : replay_) {
    if (!buffer) continue;
    const ReplayStats& s = buffer->stats();
    t.held += s.held.load(std::memory_order_relaxed);
    t.confirmed += s.confirmed.get();
    t.replayed += s.replayed.get();
    t.evicted_full += s.evicted_full.get();
    t.evicted_old += s.evicted_old.get();
  }
  return t;
}

void Exporter::flush(uint32_t now_s) {
  if (awaiting_.load(std::memory_order_relaxed) && !take_first_transport(now_s)) return;
  adopt_new_transport();
  queue_.drain(*transport_);
  now_ms_ = steady_ms();
  if (replays()) {
    for (const auto& buffer : replay_)
      if (buffer) buffer->expire(now_ms_);
    const ReplayTotals t = replay_totals();
    const uint64_t evicted = t.evicted_full + t.evicted_old;
    if (evicted != evicted_warned_ && now_ms_ - last_drop_warning_ms_ >= kDropWarningIntervalMs) {
      spdlog::warn(
          "{}: {} records left the replay buffer unconfirmed so far ({} for lack of room, {} by "
          "age): the collector does not confirm their storage in time",
          output_, evicted, t.evicted_full, t.evicted_old);
      evicted_warned_ = evicted;
      last_drop_warning_ms_ = now_ms_;
    }
    if (replay_pending_) replay_slice(now_s);
  }
  builder_.flush(now_s);
  if (config_.statistics_interval_ms != 0 &&
      steady_ms() - statistics_sent_ms_ >= config_.statistics_interval_ms)
    send_statistics(now_s);
  transport_up_.store(transport_->flush(), std::memory_order_relaxed);
  take_control_messages();
  collect_held_outcome();
  abandoned_by_transport_.store(abandoned_by_old_transports_ + transport_->abandoned_messages(),
                                std::memory_order_relaxed);
}

void Exporter::send_statistics(uint32_t now_s) {
  statistics_sent_ms_ = steady_ms();
  collect_held_outcome();
  MeteringReliability metering;
  if (config_.metering_reliability) metering = config_.metering_reliability->read();
  builder_.send_statistics(stats_, config_.metering_reliability ? &metering : nullptr, now_s);
}

void Exporter::close(uint32_t now_s, uint64_t deadline) {
  if (awaiting_.load(std::memory_order_relaxed) && !backlog_.empty())
    while (incoming_.load(std::memory_order_acquire) == nullptr && steady_ms() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (awaiting_.load(std::memory_order_relaxed) && !take_first_transport(now_s)) {
    if (!backlog_.empty())
      spdlog::warn("{}: closing without ever reaching a collector: {} records not sent", output_,
                   backlog_.size());
    // Counted as not sent, as hold() counts them beyond the backlog.
    const size_t limit = config_.send_queue_bytes;
    config_.send_queue_bytes = 0;
    last_drop_warning_ms_ = steady_ms();
    for (const FlowRecord& record : std::exchange(backlog_, {})) hold(record);
    config_.send_queue_bytes = limit;
    return;
  }
  flush(now_s);
  // The last word on loss, when there was any (records not sent, packets not metered).
  const bool ignored =
      config_.metering_reliability && config_.metering_reliability->read().ignored_packets != 0;
  if (config_.statistics_interval_ms != 0 && (stats_.records_not_sent.get() != 0 || ignored))
    send_statistics(now_s);
  // Delivered, and where the collector confirms storage, confirmed stored.
  const auto unconfirmed = [&] {
    take_control_messages();
    return storage_confirmations_seen() && replay_totals().held != 0;
  };
  while (!(queue_.empty() && !replay_pending_ && transport_->drained() && !unconfirmed()) &&
         steady_ms() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    queue_.drain(*transport_);
    if (replay_pending_) {
      replay_slice(now_s);
      builder_.flush(now_s);
    }
    transport_->flush();
  }
  if (!queue_.empty() || !transport_->drained())
    spdlog::warn("{}: closing with data not yet delivered ({} messages queued here)",
                 transport_->name(), queue_.size());
  queue_.clear();
  transport_->abandon();
  collect_held_outcome();
}

}  // namespace poolflow::exporter
