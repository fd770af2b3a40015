#include "ipfix/message_reader.h"

#include "poolflow/byte_order.h"

namespace poolflow::ipfix {

const std::array<std::string_view, kDecodeErrorCount> kDecodeErrorNames = {
    "message_too_short", "wrong_version",      "length_mismatch",       "set_too_short",
    "set_past_end",      "reserved_set_id",    "template_truncated",    "template_invalid",
    "template_limit",    "withdrawal_unknown", "data_without_template", "record_truncated",
};

namespace {

void note(DecodeResult& result, DecodeError error) {
  ++result.errors[static_cast<size_t>(error)];
  if (result.first_error == DecodeError::count_) result.first_error = error;
}

constexpr uint16_t kFirstDataSetId = 256;

}  // namespace

const DecodedTemplate* TemplateStore::find(uint32_t domain, uint16_t id) const {
  const auto it = templates_.find(key(domain, id));
  return it == templates_.end() ? nullptr : &it->second;
}

bool variable_field_length(const uint8_t* p, const uint8_t* end, size_t& header, size_t& length) {
  if (p >= end) return false;
  if (*p < 255) {
    header = 1;
    length = *p;
    return true;
  }
  if (end - p < 3) return false;
  header = 3;
  length = load_be16(p + 1);
  return true;
}

DecodeResult MessageReader::decode(std::span<const uint8_t> message, TemplateStore& store,
                                   RecordVisitor* visitor) const {
  DecodeResult result;
  const auto discard = [&](DecodeError error) {
    note(result, error);
    result.discarded = true;
    result.records_complete = false;
    return result;
  };
  if (message.size() < kMessageHeaderLength) return discard(DecodeError::message_too_short);
  const uint8_t* p = message.data();
  if (load_be16(p) != kVersion) return discard(DecodeError::wrong_version);
  result.header.length = load_be16(p + 2);
  result.header.export_time = load_be32(p + 4);
  result.header.sequence = load_be32(p + 8);
  result.header.observation_domain = load_be32(p + 12);
  if (result.header.length != message.size()) return discard(DecodeError::length_mismatch);

  // Check every set's bounds before using any of them: a malformed message is
  // discarded as a whole.
  for (size_t offset = kMessageHeaderLength; offset < message.size();) {
    if (message.size() - offset < kSetHeaderLength) return discard(DecodeError::set_too_short);
    const uint16_t id = load_be16(p + offset);
    const uint16_t length = load_be16(p + offset + 2);
    if (length < kSetHeaderLength) return discard(DecodeError::set_too_short);
    if (length > message.size() - offset) return discard(DecodeError::set_past_end);
    if (id != kTemplateSetId && id != kOptionsTemplateSetId && id < kFirstDataSetId)
      return discard(DecodeError::reserved_set_id);
    offset += length;
  }
  for (size_t offset = kMessageHeaderLength; offset < message.size();) {
    const uint16_t id = load_be16(p + offset);
    const uint16_t length = load_be16(p + offset + 2);
    const auto body = message.subspan(offset + kSetHeaderLength, length - kSetHeaderLength);
    if (id >= kFirstDataSetId) read_data_set(body, id, store, visitor, result);
    else read_template_set(body, id, result.header.observation_domain, store, result);
    offset += length;
  }
  return result;
}

void MessageReader::read_template_set(std::span<const uint8_t> set, uint16_t set_id,
                                      uint32_t domain, TemplateStore& store,
                                      DecodeResult& result) const {
  const bool options = set_id == kOptionsTemplateSetId;
  const size_t record_header = options ? 6 : 4;
  const uint8_t* p = set.data();
  const uint8_t* const end = set.data() + set.size();
  // Fewer octets than a record header left: padding (RFC 7011 §3.3.1).
  while (static_cast<size_t>(end - p) >= record_header) {
    const uint8_t* const start = p;
    const uint16_t id = load_be16(p);
    const uint16_t field_count = load_be16(p + 2);
    if (field_count == 0) {  // withdrawal (§8.1); id == set id withdraws them all
      p += 4;
      if (id == set_id) {
        for (auto it = store.templates_.begin(); it != store.templates_.end();) {
          const bool match = static_cast<uint32_t>(it->first >> 16) == domain &&
                             (it->second.scope_fields > 0) == options;
          if (match) {
            it = store.templates_.erase(it);
            ++result.templates_withdrawn;
          } else {
            ++it;
          }
        }
      } else if (store.templates_.erase(TemplateStore::key(domain, id)) == 1) {
        ++result.templates_withdrawn;
      } else {
        note(result, DecodeError::withdrawal_unknown);
      }
      continue;
    }
    const uint16_t scope = options ? load_be16(p + 4) : 0;
    p += record_header;

    DecodedTemplate t;
    t.id = id;
    t.scope_fields = scope;
    bool valid = id >= kFirstDataSetId && field_count <= limits_.max_fields &&
                 (!options || (scope >= 1 && scope <= field_count));
    bool truncated = false;
    if (valid) t.fields.reserve(field_count);
    for (uint16_t i = 0; i < field_count; ++i) {
      if (end - p < 4) {
        truncated = true;
        break;
      }
      DecodedField f{static_cast<uint16_t>(load_be16(p) & 0x7fff), load_be16(p + 2), 0};
      const bool enterprise = load_be16(p) & 0x8000;
      p += 4;
      if (enterprise) {
        if (end - p < 4) {
          truncated = true;
          break;
        }
        f.enterprise = load_be32(p);
        p += 4;
      }
      if (f.length == 0) valid = false;
      if (!valid) continue;  // keep walking: the next record starts after this one
      if (f.length == kVariableLength) {
        t.variable = true;
        t.min_record_length += 1;
      } else {
        t.min_record_length += f.length;
      }
      t.fields.push_back(f);
    }
    if (truncated) {
      note(result, DecodeError::template_truncated);
      return;
    }
    // A record must fit a message: 65535 minus the message and set headers.
    if (t.min_record_length > 65535 - kMessageHeaderLength - kSetHeaderLength) valid = false;
    if (!valid) {
      note(result, DecodeError::template_invalid);
      continue;
    }
    const uint64_t key = TemplateStore::key(domain, id);
    const bool replaces = store.templates_.count(key) == 1;
    if (!replaces && store.templates_.size() >= limits_.max_templates) {
      note(result, DecodeError::template_limit);
      continue;
    }
    t.encoded.assign(start, p);
    store.templates_[key] = std::move(t);
    ++result.templates_added;
  }
}

void MessageReader::read_data_set(std::span<const uint8_t> set, uint16_t set_id,
                                  const TemplateStore& store, RecordVisitor* visitor,
                                  DecodeResult& result) const {
  const DecodedTemplate* t = store.find(result.header.observation_domain, set_id);
  if (t == nullptr) {
    note(result, DecodeError::data_without_template);
    result.records_complete = false;
    return;
  }
  const uint8_t* p = set.data();
  const uint8_t* const end = set.data() + set.size();
  // min_record_length >= 1 (no zero-length field), so this loop ends.
  while (static_cast<size_t>(end - p) >= t->min_record_length) {
    size_t length = 0;
    if (!t->variable) {
      length = t->min_record_length;
    } else {
      for (const DecodedField& f : t->fields) {
        size_t header = 0, value = f.length;
        if (f.length == kVariableLength && !variable_field_length(p + length, end, header, value)) {
          length = SIZE_MAX;
          break;
        }
        length += header + value;
        if (length > static_cast<size_t>(end - p)) break;
      }
      if (length > static_cast<size_t>(end - p)) {
        note(result, DecodeError::record_truncated);
        result.records_complete = false;
        return;
      }
    }
    ++result.data_records;
    if (t->scope_fields > 0) ++result.options_records;
    if (visitor != nullptr) visitor->record(result.header, *t, {p, length});
    p += length;
  }
}

}  // namespace poolflow::ipfix
