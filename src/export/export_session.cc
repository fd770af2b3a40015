#include "export/export_session.h"

#include <array>

#include "ipfix/flow_templates.h"

namespace poolflow::exporter {

ExportSession::ExportSession(std::unique_ptr<Transport> transport, uint32_t observation_domain,
                             size_t max_message_length)
    : transport_(std::move(transport)),
      observation_domain_(observation_domain),
      writer_(max_message_length) {}

void ExportSession::send_message(uint32_t now_s) {
  const uint32_t records = writer_.data_records();
  const auto message = writer_.finish(now_s, sequence_, observation_domain_);
  // Records of a failed message still advance the sequence number so that the
  // collector can count the loss (RFC 7011 §3.1).
  sequence_ += records;
  if (transport_->send(message)) {
    stats_.messages_sent.add();
    stats_.octets_sent.add(message.size());
    stats_.records_sent.add(records);
  } else {
    stats_.send_failures.add();
    stats_.records_lost.add(records);
  }
  writer_.reset();
}

void ExportSession::add(const FlowRecord& record, uint32_t now_s) {
  if (!templates_sent_) {
    // Templates lead every session, in a message of their own.
    static const std::array<const ipfix::Template*, 2> kTemplates = {
        &ipfix::ipv4_flow_template(), &ipfix::ipv6_flow_template()};
    writer_.add_template_set(kTemplates);
    send_message(now_s);
    templates_sent_ = true;
  }
  const ipfix::Template& tmpl = ipfix::flow_template_for(record);
  uint8_t* out = writer_.add_record(tmpl.id, tmpl.record_length());
  if (out == nullptr) {
    send_message(now_s);
    out = writer_.add_record(tmpl.id, tmpl.record_length());
  }
  ipfix::encode_flow_record(record, out);
}

void ExportSession::flush(uint32_t now_s) {
  if (!writer_.empty()) send_message(now_s);
  transport_->flush();
}

}  // namespace poolflow::exporter
