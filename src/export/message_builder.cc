#include "export/message_builder.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include <unistd.h>

#include "ipfix/flow_templates.h"

namespace poolflow::exporter {

namespace {

constexpr uint8_t kProtoTcp = 6;
constexpr uint16_t kTemplateStream = 0;
constexpr uint16_t kFirstDataStream = 1;

std::array<ipfix::Template, 4> flow_templates() {
  std::array<ipfix::Template, 4> copies{};
  const auto templates = ipfix::flow_templates();
  for (size_t i = 0; i < copies.size(); ++i) copies[i] = *templates[i];
  return copies;
}

}  // namespace

MessageBuilder::MessageBuilder(const MessageBuilderConfig& config, MessageSink& sink,
                               ExportStats& stats)
    : config_(config),
      sink_(sink),
      stats_(stats),
      channels_{Channel{ipfix::MessageWriter(config.max_message_length),
                        {},
                        flow_templates(),
                        flow_templates()},
                Channel{ipfix::MessageWriter(config.max_message_length),
                        {},
                        flow_templates(),
                        flow_templates()}},
      options_writer_(config.max_message_length) {}

void MessageBuilder::start(const TransportTraits& traits) {
  traits_ = traits;
  sequence_.fill(0);
  templates_sent_.fill(false);
  statistics_template_sent_ = false;
  // A peer that grants fewer than 3 streams gets the data classes on its last
  // stream, which they then share with their sequence numbers (1 stream:
  // everything on 0).
  const uint16_t last_stream =
      traits_.stream_count > 0 ? static_cast<uint16_t>(traits_.stream_count - 1) : 0;
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
  const auto templates = ipfix::flow_templates();
  for (size_t i = 0; i < templates.size(); ++i)
    channels_[1].templates[i].id = static_cast<uint16_t>(templates[i]->id + offset);
  for (Channel& channel : channels_) {
    channel.replay_templates_sent = false;
    for (size_t i = 0; i < templates.size(); ++i)
      channel.replay_templates[i].id =
          static_cast<uint16_t>(channel.templates[i].id + ipfix::kReplayTemplateOffset);
  }
}

size_t MessageBuilder::class_of(const FlowRecord& record) {
  return record.key.protocol == kProtoTcp ? 0 : 1;
}

MessageBuilder::Channel& MessageBuilder::channel_for(const FlowRecord& record) {
  return channels_[class_of(record)];
}

const MessageBuilder::Channel& MessageBuilder::channel_for(const FlowRecord& record) const {
  return channels_[class_of(record)];
}

bool MessageBuilder::configured_reliable(const FlowRecord& record) const {
  const ReliabilityPolicy& p =
      record.key.protocol == kProtoTcp ? config_.tcp_flows : config_.other_flows;
  return p.kind == Reliability::reliable;
}

uint16_t MessageBuilder::template_stream(const Channel& channel) const {
  return traits_.streams && !config_.templates_on_stream_zero ? channel.info.stream
                                                              : kTemplateStream;
}

void MessageBuilder::send_template_message(uint16_t stream,
                                           std::span<const ipfix::Template* const> templates,
                                           std::span<const bool> reliable, uint32_t now_s) {
  MessageInfo info;
  info.templates = true;
  info.stream = stream;
  options_writer_.reset();
  options_writer_.add_template_set(templates);
  uint32_t records = 0;
  if (traits_.streams) {
    // RFC 6526 §4.3: say which templates' data may be lost (dataRecordsReliability).
    const ipfix::Template* options[] = {&ipfix::reliability_template()};
    options_writer_.add_template_set(options);
    for (size_t i = 0; i < templates.size(); ++i)
      ipfix::encode_reliability_record(templates[i]->id, reliable[i],
                                       options_writer_.add_record(ipfix::kReliabilityTemplateId,
                                                                  ipfix::kReliabilityRecordLength));
    records = static_cast<uint32_t>(templates.size());
  }
  const auto message = options_writer_.finish(now_s, sequence_[stream], config_.observation_domain);
  sequence_[stream] += records;  // options records are data records too (RFC 7011 §3.1)
  MessageContent content;
  content.sequence_end = sequence_[stream];
  sink_.submit(message, info, content);
  stats_.template_messages_sent.add();
}

void MessageBuilder::send_templates(uint16_t stream, uint32_t now_s) {
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
  send_template_message(stream, {templates.data(), count}, {reliable.data(), count}, now_s);
  templates_sent_[stream] = true;
  templates_sent_ms_ = steady_ms();
  messages_since_templates_ = 0;
}

void MessageBuilder::send_replay_templates(Channel& channel, uint32_t now_s) {
  std::array<const ipfix::Template*, 4> templates{};
  std::array<bool, 4> reliable{};
  for (size_t i = 0; i < templates.size(); ++i) {
    templates[i] = &channel.replay_templates[i];
    reliable[i] = true;  // only reliable records are replayed
  }
  send_template_message(template_stream(channel), templates, reliable, now_s);
  channel.replay_templates_sent = true;
}

void MessageBuilder::send_data(Channel& channel, uint32_t now_s) {
  sink_.before_data_message();
  if (traits_.template_refresh_ms != 0 || traits_.template_refresh_messages != 0) {
    const bool by_time = traits_.template_refresh_ms != 0 &&
                         steady_ms() - templates_sent_ms_ >= traits_.template_refresh_ms;
    const bool by_count = traits_.template_refresh_messages != 0 &&
                          messages_since_templates_ >= traits_.template_refresh_messages;
    if (by_time || by_count) templates_sent_.fill(false);
  }
  if (const uint16_t stream = template_stream(channel); !templates_sent_[stream])
    send_templates(stream, now_s);
  if (channel.has_replayed && !channel.replay_templates_sent) send_replay_templates(channel, now_s);

  uint32_t& sequence = sequence_[channel.info.stream];
  const auto message = channel.writer.finish(now_s, sequence, config_.observation_domain);
  // Records not sent still advance the sequence number so that the collector
  // can count the loss (RFC 7011 §3.1).
  sequence += channel.writer.data_records();
  channel.content.sequence_end = sequence;
  channel.content.channel = static_cast<uint8_t>(&channel - channels_.data());
  sink_.submit(message, channel.info, channel.content);
  ++messages_since_templates_;
  channel.writer.reset();
  channel.content = {};
  channel.has_replayed = false;
}

void MessageBuilder::add(const FlowRecord& record, uint32_t now_s, uint64_t serial, bool replayed) {
  Channel& channel = channel_for(record);
  // A message carries one run of consecutive serials, so that a confirmation
  // of it covers exactly its records: replayed ones and new ones (or a replay
  // resumed elsewhere) go in separate messages.
  if (serial != kNoSerial && channel.content.replay_end != channel.content.replay_begin &&
      serial != channel.content.replay_end)
    send_data(channel, now_s);
  const size_t index = ipfix::flow_template_index(record);
  const ipfix::Template& tmpl =
      replayed ? channel.replay_templates[index] : channel.templates[index];
  uint8_t* out = channel.writer.add_record(tmpl.id, tmpl.record_length());
  if (out == nullptr) {
    send_data(channel, now_s);
    out = channel.writer.add_record(tmpl.id, tmpl.record_length());
  }
  ipfix::encode_flow_record(record, out);
  MessageContent& content = channel.content;
  content.records += 1;
  content.packets += record.packets;
  content.octets += record.octets;
  if (serial != kNoSerial) {
    if (content.replay_begin == content.replay_end) content.replay_begin = serial;
    content.replay_end = serial + 1;
  }
  channel.has_replayed |= replayed;
}

void MessageBuilder::flush(uint32_t now_s) {
  for (Channel& channel : channels_)
    if (!channel.writer.empty()) send_data(channel, now_s);
}

void MessageBuilder::send_statistics(const ExportStats& stats, const MeteringReliability* metering,
                                     uint32_t now_s) {
  // Totals over every transport session, in records, packets and octets, with
  // when the first and the last record was not sent (0 while none was).
  MessageInfo info;
  info.stream = 0;
  options_writer_.reset();
  if (!statistics_template_sent_) {
    const ipfix::Template* options[] = {&ipfix::export_statistics_template(),
                                        &ipfix::exporting_reliability_template(),
                                        &ipfix::metering_reliability_template()};
    options_writer_.add_template_set({options, metering != nullptr ? 3u : 2u});
    info.templates = true;  // never dropped: the records after it need it
  }
  ipfix::encode_export_statistics_record(
      config_.observation_domain, stats.octets_sent.get(), stats.messages_sent.get(),
      stats.records_sent.get(),
      options_writer_.add_record(ipfix::kExportStatisticsTemplateId,
                                 ipfix::kExportStatisticsRecordLength));
  ipfix::encode_exporting_reliability_record(
      static_cast<uint32_t>(::getpid()), stats.records_not_sent.get(), stats.packets_not_sent.get(),
      stats.octets_not_sent.get(), stats.not_sent_window.first_ms, stats.not_sent_window.last_ms,
      options_writer_.add_record(ipfix::kExportingReliabilityTemplateId,
                                 ipfix::kExportingReliabilityRecordLength));
  uint32_t records = 2;
  if (metering != nullptr) {
    ipfix::encode_metering_reliability_record(
        config_.observation_domain, metering->ignored_packets, metering->ignored_octets,
        metering->first_ignored_ms, metering->last_ignored_ms,
        options_writer_.add_record(ipfix::kMeteringReliabilityTemplateId,
                                   ipfix::kMeteringReliabilityRecordLength));
    ++records;
  }
  const auto message = options_writer_.finish(now_s, sequence_[0], config_.observation_domain);
  sequence_[0] += records;
  MessageContent content;
  content.sequence_end = sequence_[0];
  sink_.submit(message, info, content);
  statistics_template_sent_ = true;
}

}  // namespace poolflow::exporter
