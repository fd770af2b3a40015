#include "export/export_session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <thread>

#include <unistd.h>

#include "ipfix/flow_templates.h"

namespace poolflow::exporter {

namespace {

constexpr uint8_t kProtoTcp = 6;
constexpr uint16_t kTemplateStream = 0;
constexpr uint16_t kFirstDataStream = 1;
constexpr uint64_t kDropWarningIntervalMs = 5000;

}  // namespace

namespace {
std::array<ipfix::Template, 4> flow_templates() {
  std::array<ipfix::Template, 4> copies{};
  const auto templates = ipfix::flow_templates();
  for (size_t i = 0; i < copies.size(); ++i) copies[i] = *templates[i];
  return copies;
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

ExportSession::ExportSession(std::unique_ptr<Transport> transport, ExportSessionConfig config)
    : ExportSession(std::move(transport), config, false) {}

ExportSession::ExportSession(std::unique_ptr<Transport> transport, ExportSessionConfig config,
                             bool awaiting)
    : transport_(std::move(transport)),
      output_(transport_->name()),
      awaiting_(awaiting),
      config_(config),
      channels_{Channel{ipfix::MessageWriter(config.max_message_length), {}, flow_templates(), {}},
                Channel{ipfix::MessageWriter(config.max_message_length), {}, flow_templates(), {}}},
      templates_writer_(config.max_message_length),
      statistics_sent_ms_(steady_ms()) {
  start_transport_session();
}

namespace {
// Stands in for the transport of a session awaiting its first one; nothing is
// ever sent to it (the session holds records instead).
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

ExportSession::ExportSession(std::string output, ExportSessionConfig config)
    : ExportSession(std::make_unique<NoTransport>(std::move(output)), config, true) {}

ExportSession::~ExportSession() { delete incoming_.load(); }

bool ExportSession::take_first_transport(uint32_t now_s) {
  if (incoming_.load(std::memory_order_acquire) == nullptr) return false;
  awaiting_.store(false, std::memory_order_relaxed);
  adopt_new_transport();
  if (!backlog_.empty())
    spdlog::info("{}: sending the {} records that waited for it", transport_->name(),
                 backlog_.size());
  for (const FlowRecord& record : std::exchange(backlog_, {})) add(record, now_s);
  return true;
}

void ExportSession::hold(const FlowRecord& record) {
  if (backlog_.size() * sizeof(FlowRecord) < config_.send_queue_bytes) {
    backlog_.push_back(record);
    return;
  }
  stats_.records_not_sent.add();
  stats_.packets_not_sent.add(record.packets);
  stats_.octets_not_sent.add(record.octets);
  if (channel_for(record).info.policy.kind == Reliability::reliable)
    stats_.reliable_records_not_sent.add();
  not_sent_window_.note(unix_ms());
  const uint64_t now = steady_ms();
  if (now - last_drop_warning_ms_ >= kDropWarningIntervalMs) {
    spdlog::warn("{}: no collector yet and {} records waiting: dropping ({} not sent so far)",
                 output_, backlog_.size(), stats_.records_not_sent.get());
    last_drop_warning_ms_ = now;
  }
}

void ExportSession::replace_transport(std::unique_ptr<Transport> transport) {
  delete incoming_.exchange(transport.release(), std::memory_order_acq_rel);
}

void ExportSession::adopt_new_transport() {
  Transport* incoming = incoming_.exchange(nullptr, std::memory_order_acq_rel);
  if (incoming == nullptr) {
    if (transport_->session_epoch() != epoch_) start_transport_session();
    return;
  }
  spdlog::info("export: switching from {} to {}", transport_->name(), incoming->name());
  transport_->abandon();  // what it still holds goes, or is dropped and counted
  abandoned_by_old_transports_ += transport_->abandoned_messages();
  collect_held_outcome();
  transport_.reset(incoming);
  held_seen_ = {};
  start_transport_session();
}

void ExportSession::start_transport_session() {
  while (!queue_.empty()) drop_queued(queue_.begin());
  traits_ = transport_->traits();
  epoch_ = transport_->session_epoch();
  if (!awaiting_.load(std::memory_order_relaxed)) stats_.transport_sessions.add();
  transport_up_.store(!awaiting_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  sequence_.fill(0);
  templates_sent_.fill(false);
  statistics_template_sent_ = false;
  // Records already in the writers belong to no session yet: they keep their
  // place and go out on the new session after its templates. A peer that
  // grants fewer than 3 streams gets the data classes on its last stream, which
  // they then share with their sequence numbers (1 stream: everything on 0).
  const uint16_t last_stream =
      traits_.stream_count > 0 ? static_cast<uint16_t>(traits_.stream_count - 1) : 0;
  if (traits_.streams && traits_.stream_count < kStreams)
    spdlog::info("{}: {} outbound stream(s): data of both classes on stream {}", transport_->name(),
                 traits_.stream_count, last_stream);
  for (size_t i = 0; i < channels_.size(); ++i) {
    Channel& c = channels_[i];
    c.info.stream =
        traits_.streams ? std::min(static_cast<uint16_t>(kFirstDataStream + i), last_stream) : 0;
    c.info.policy = !traits_.streams ? ReliabilityPolicy{}
                    : i == 0         ? config_.tcp_flows
                                     : config_.other_flows;
  }
  // Over SCTP each reliability class has its own templates, so that the
  // collector accounts loss per template and knows which may lose records.
  const uint16_t offset = traits_.streams ? ipfix::kPartialTemplateOffset : 0;
  const auto flow_templates = ipfix::flow_templates();
  for (size_t i = 0; i < flow_templates.size(); ++i)
    channels_[1].templates[i].id = static_cast<uint16_t>(flow_templates[i]->id + offset);
}

ExportSession::Channel& ExportSession::channel_for(const FlowRecord& record) {
  return record.key.protocol == kProtoTcp ? channels_[0] : channels_[1];
}

uint16_t ExportSession::template_stream(const Channel& channel) const {
  return traits_.streams && !config_.templates_on_stream_zero ? channel.info.stream
                                                              : kTemplateStream;
}

void ExportSession::count_not_sent(const MessageInfo& info, const Content& content) {
  stats_.messages_not_sent.add();
  stats_.records_not_sent.add(content.records);
  stats_.packets_not_sent.add(content.packets);
  stats_.octets_not_sent.add(content.octets);
  if (info.policy.kind == Reliability::reliable)
    stats_.reliable_records_not_sent.add(content.records);
  if (content.records == 0) return;  // templates or statistics: no flow record lost
  not_sent_window_.note(unix_ms());
}

void ExportSession::collect_held_outcome() {
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
  not_sent_window_.merge({now.first_dropped_ms, now.last_dropped_ms});
  seen = now;
}

void ExportSession::send_templates(uint16_t stream, uint32_t now_s) {
  std::array<const ipfix::Template*, 8> templates{};
  std::array<bool, 8> reliable{};
  size_t count = 0;
  for (const Channel& c : channels_) {
    if (template_stream(c) != stream) continue;
    if (count > 0 && templates[0]->id == c.templates[0].id) continue;  // one set of templates
    for (const ipfix::Template& t : c.templates) {
      reliable[count] = c.info.policy.kind == Reliability::reliable;
      templates[count++] = &t;
    }
  }
  MessageInfo info;
  info.templates = true;
  info.stream = stream;
  templates_writer_.reset();
  templates_writer_.add_template_set({templates.data(), count});
  uint32_t records = 0;
  if (traits_.streams) {
    // RFC 6526 §4.3: say which templates' data may be lost (dataRecordsReliability).
    const ipfix::Template* options[] = {&ipfix::reliability_template()};
    templates_writer_.add_template_set(options);
    for (size_t i = 0; i < count; ++i)
      ipfix::encode_reliability_record(
          templates[i]->id, reliable[i],
          templates_writer_.add_record(ipfix::kReliabilityTemplateId,
                                       ipfix::kReliabilityRecordLength));
    records = static_cast<uint32_t>(count);
  }
  const auto message =
      templates_writer_.finish(now_s, sequence_[stream], config_.observation_domain);
  sequence_[stream] += records;  // options records are data records too (RFC 7011 §3.1)
  submit(message, info, {});
  templates_sent_[stream] = true;
  stats_.template_messages_sent.add();
  templates_sent_ms_ = steady_ms();
  messages_since_templates_ = 0;
}

void ExportSession::send_data(Channel& channel, uint32_t now_s) {
  adopt_new_transport();
  if (traits_.template_refresh_ms != 0 || traits_.template_refresh_messages != 0) {
    const bool by_time = traits_.template_refresh_ms != 0 &&
                         steady_ms() - templates_sent_ms_ >= traits_.template_refresh_ms;
    const bool by_count = traits_.template_refresh_messages != 0 &&
                          messages_since_templates_ >= traits_.template_refresh_messages;
    if (by_time || by_count) templates_sent_.fill(false);
  }
  if (const uint16_t stream = template_stream(channel); !templates_sent_[stream])
    send_templates(stream, now_s);

  uint32_t& sequence = sequence_[channel.info.stream];
  const auto message = channel.writer.finish(now_s, sequence, config_.observation_domain);
  // Records not sent still advance the sequence number so that the collector
  // can count the loss (RFC 7011 §3.1).
  sequence += channel.writer.data_records();
  submit(message, channel.info, channel.content);
  ++messages_since_templates_;
  channel.writer.reset();
  channel.content = {};
}

void ExportSession::submit(std::span<const uint8_t> message, const MessageInfo& message_info,
                           const Content& content) {
  MessageInfo info = message_info;
  info.completed_ms = steady_ms();
  info.records = content.records;
  info.packets = content.packets;
  info.octets = content.octets;
  if (queue_.empty()) {
    switch (transport_->send(message, info)) {
      case SendResult::sent:
        stats_.messages_sent.add();
        stats_.octets_sent.add(message.size());
        stats_.records_sent.add(content.records);
        return;
      case SendResult::held:  // counted by collect_held_outcome()
        return;
      case SendResult::failed:
        count_not_sent(info, content);
        return;
      case SendResult::would_block:
        break;
    }
  }
  make_room(message.size());
  queue_.push_back(Queued{{message.begin(), message.end()}, info, content, info.completed_ms});
  queued_bytes_ += message.size();
  if (info.policy.kind == Reliability::ttl && !info.templates) ++queued_with_ttl_;
}

void ExportSession::drop_queued(std::deque<Queued>::iterator it) {
  count_not_sent(it->info, it->content);
  forget(*it);
  queue_.erase(it);
}

void ExportSession::make_room(size_t bytes) {
  // Best-effort data goes first, reliable data last, templates never (the data
  // after them would be undecodable).
  for (const bool reliable : {false, true}) {
    for (size_t i = 0; i < queue_.size() && queued_bytes_ + bytes > config_.send_queue_bytes;) {
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
            transport_->name(), reliable ? "reliable" : "best-effort",
            stats_.records_not_sent.get() + q.content.records,
            stats_.reliable_records_not_sent.get() + (reliable ? q.content.records : 0));
        last_drop_warning_ms_ = now;
      }
      drop_queued(queue_.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
}

void ExportSession::forget(const Queued& q) {
  queued_bytes_ -= q.bytes.size();
  if (q.info.policy.kind == Reliability::ttl && !q.info.templates) --queued_with_ttl_;
}

void ExportSession::age_out() {
  const uint64_t now = steady_ms();
  if (queued_with_ttl_ == 0 || now == aged_out_scan_ms_) return;
  aged_out_scan_ms_ = now;
  std::erase_if(queue_, [&](const Queued& q) {
    const bool expired = !q.info.templates && q.info.policy.kind == Reliability::ttl &&
                         now - q.queued_ms >= q.info.policy.value;
    if (expired) {
      count_not_sent(q.info, q.content);
      forget(q);
    }
    return expired;
  });
}

void ExportSession::drain_queue() {
  // usrsctp does not abandon data still in its send buffer when a TTL expires:
  // best-effort messages age out here, before they reach it.
  age_out();
  while (!queue_.empty()) {
    Queued& head = queue_.front();
    const SendResult result = transport_->send(head.bytes, head.info);
    if (result == SendResult::would_block) return;
    if (result == SendResult::sent || result == SendResult::held) {
      if (result == SendResult::sent) {
        stats_.messages_sent.add();
        stats_.octets_sent.add(head.bytes.size());
        stats_.records_sent.add(head.content.records);
      }
      forget(head);
      queue_.pop_front();
    } else {
      drop_queued(queue_.begin());
    }
  }
}

void ExportSession::add(const FlowRecord& record, uint32_t now_s) {
  if (awaiting_.load(std::memory_order_relaxed) && !take_first_transport(now_s)) [[unlikely]] {
    hold(record);
    return;
  }
  Channel& channel = channel_for(record);
  const ipfix::Template& tmpl = channel.templates[ipfix::flow_template_index(record)];
  uint8_t* out = channel.writer.add_record(tmpl.id, tmpl.record_length());
  if (out == nullptr) {
    if (!queue_.empty()) drain_queue();
    send_data(channel, now_s);
    out = channel.writer.add_record(tmpl.id, tmpl.record_length());
  }
  ipfix::encode_flow_record(record, out);
  channel.content.records += 1;
  channel.content.packets += record.packets;
  channel.content.octets += record.octets;
}

void ExportSession::flush(uint32_t now_s) {
  if (awaiting_.load(std::memory_order_relaxed) && !take_first_transport(now_s)) return;
  adopt_new_transport();
  drain_queue();
  for (Channel& channel : channels_)
    if (!channel.writer.empty()) send_data(channel, now_s);
  if (config_.statistics_interval_ms != 0 &&
      steady_ms() - statistics_sent_ms_ >= config_.statistics_interval_ms)
    send_statistics(now_s);
  transport_up_.store(transport_->flush(), std::memory_order_relaxed);
  collect_held_outcome();
  abandoned_by_transport_.store(abandoned_by_old_transports_ + transport_->abandoned_messages(),
                                std::memory_order_relaxed);
}

}  // namespace poolflow::exporter

namespace poolflow::exporter {

void ExportSession::send_statistics(uint32_t now_s) {
  statistics_sent_ms_ = steady_ms();
  collect_held_outcome();
  // Reliably, on stream 0: what this exporter sent (Metering Process Statistics,
  // RFC 7011 §4.1) and what it could not send (Exporting Process Reliability
  // Statistics, §4.3), in records, packets and octets, with when the first and
  // the last record was not sent (0 while none was). Totals over every session.
  MessageInfo info;
  info.stream = 0;
  templates_writer_.reset();
  const bool metering = static_cast<bool>(config_.metering_reliability);
  if (!statistics_template_sent_) {
    const ipfix::Template* options[] = {&ipfix::export_statistics_template(),
                                        &ipfix::exporting_reliability_template(),
                                        &ipfix::metering_reliability_template()};
    templates_writer_.add_template_set({options, metering ? 3u : 2u});
    info.templates = true;  // never dropped: the records after it need it
  }
  ipfix::encode_export_statistics_record(
      config_.observation_domain, stats_.octets_sent.get(), stats_.messages_sent.get(),
      stats_.records_sent.get(),
      templates_writer_.add_record(ipfix::kExportStatisticsTemplateId,
                                   ipfix::kExportStatisticsRecordLength));
  ipfix::encode_exporting_reliability_record(
      static_cast<uint32_t>(::getpid()), stats_.records_not_sent.get(),
      stats_.packets_not_sent.get(), stats_.octets_not_sent.get(), not_sent_window_.first_ms,
      not_sent_window_.last_ms,
      templates_writer_.add_record(ipfix::kExportingReliabilityTemplateId,
                                   ipfix::kExportingReliabilityRecordLength));
  uint32_t records = 2;
  if (metering) {
    // And what the Metering Process could not meter (§4.2).
    const MeteringReliability m = config_.metering_reliability->read();
    ipfix::encode_metering_reliability_record(
        config_.observation_domain, m.ignored_packets, m.ignored_octets, m.first_ignored_ms,
        m.last_ignored_ms,
        templates_writer_.add_record(ipfix::kMeteringReliabilityTemplateId,
                                     ipfix::kMeteringReliabilityRecordLength));
    ++records;
  }
  const auto message = templates_writer_.finish(now_s, sequence_[0], config_.observation_domain);
  sequence_[0] += records;
  submit(message, info, {});
  statistics_template_sent_ = true;
}

void ExportSession::close(uint32_t now_s, uint64_t deadline) {
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
  while (!(queue_.empty() && transport_->drained()) && steady_ms() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    drain_queue();
    transport_->flush();
  }
  if (!queue_.empty() || !transport_->drained())
    spdlog::warn("{}: closing with data not yet delivered ({} messages queued here)",
                 transport_->name(), queue_.size());
  while (!queue_.empty()) drop_queued(queue_.begin());
  transport_->abandon();
  collect_held_outcome();
}

}  // namespace poolflow::exporter
