#include "ipfix/message_writer.h"

#include "poolflow/byte_order.h"

namespace poolflow::ipfix {

MessageWriter::MessageWriter(size_t max_message_length) : buffer_(max_message_length) {}

void MessageWriter::reset() {
  length_ = kMessageHeaderLength;
  open_set_offset_ = 0;
  open_set_id_ = 0;
  data_records_ = 0;
}

void MessageWriter::close_set() {
  if (open_set_offset_ == 0) return;
  store_be16(&buffer_[open_set_offset_ + 2], static_cast<uint16_t>(length_ - open_set_offset_));
  open_set_offset_ = 0;
  open_set_id_ = 0;
}

bool MessageWriter::add_template_set(std::span<const Template* const> templates) {
  size_t needed = kSetHeaderLength;
  for (const Template* t : templates) needed += t->encoded_length();
  if (length_ + needed > buffer_.size()) return false;
  close_set();

  const bool options = !templates.empty() && templates[0]->scope_fields > 0;
  uint8_t* p = &buffer_[length_];
  store_be16(p, options ? kOptionsTemplateSetId : kTemplateSetId);
  store_be16(p + 2, static_cast<uint16_t>(needed));
  p += kSetHeaderLength;
  for (const Template* t : templates) {
    store_be16(p, t->id);
    store_be16(p + 2, static_cast<uint16_t>(t->fields.size()));
    p += 4;
    if (options) {
      store_be16(p, t->scope_fields);
      p += 2;
    }
    for (const FieldSpec& field : t->fields) {
      const uint16_t enterprise_bit = field.enterprise ? 0x8000 : 0;
      store_be16(p, field.element_id | enterprise_bit);
      store_be16(p + 2, field.length);
      p += 4;
      if (field.enterprise) {
        store_be32(p, field.enterprise);
        p += 4;
      }
    }
  }
  length_ += needed;
  return true;
}

uint8_t* MessageWriter::add_record(uint16_t template_id, size_t length) {
  const bool new_set = open_set_id_ != template_id;
  const size_t needed = length + (new_set ? kSetHeaderLength : 0);
  if (length_ + needed > buffer_.size()) return nullptr;
  if (new_set) {
    close_set();
    open_set_offset_ = length_;
    open_set_id_ = template_id;
    store_be16(&buffer_[length_], template_id);
    length_ += kSetHeaderLength;
  }
  uint8_t* record = &buffer_[length_];
  length_ += length;
  ++data_records_;
  return record;
}

std::span<const uint8_t> MessageWriter::finish(uint32_t export_time, uint32_t sequence,
                                               uint32_t observation_domain) {
  close_set();
  uint8_t* p = buffer_.data();
  store_be16(p, kVersion);
  store_be16(p + 2, static_cast<uint16_t>(length_));
  store_be32(p + 4, export_time);
  store_be32(p + 8, sequence);
  store_be32(p + 12, observation_domain);
  return {buffer_.data(), length_};
}

}  // namespace poolflow::ipfix
