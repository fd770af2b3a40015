// Decodes IPFIX messages (RFC 7011 §3): header, sets, template and options
// template records (kept in a TemplateStore, one per transport session), and
// data records handed to a RecordVisitor. Malformed input is counted by reason,
// never trusted: every length is checked before it is read, and the template
// store is bounded.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <span>
#include <string_view>
#include <vector>

#include "ipfix/message_writer.h"

namespace poolflow::ipfix {

inline constexpr uint16_t kVariableLength = 65535;

enum class DecodeError : uint8_t {
  // The message is discarded; over SCTP and TCP the session is closed (§10).
  message_too_short,  ///< shorter than a message header
  wrong_version,      ///< not 10
  length_mismatch,    ///< header length differs from what arrived
  set_too_short,      ///< set length below 4
  set_past_end,       ///< set runs past the message
  reserved_set_id,    ///< set id 0, 1 or 4..255
  // Counted; the rest of the message is used.
  template_truncated,     ///< a template record runs past its set
  template_invalid,       ///< id < 256, too many fields, zero-length field, bad scope count
  template_limit,         ///< the session already has max_templates templates
  withdrawal_unknown,     ///< a withdrawal of a template that does not exist
  data_without_template,  ///< a data set whose template is unknown (its records are skipped)
  record_truncated,       ///< a variable-length record runs past its set
  count_
};
inline constexpr size_t kDecodeErrorCount = static_cast<size_t>(DecodeError::count_);
extern const std::array<std::string_view, kDecodeErrorCount> kDecodeErrorNames;

/// Whether the message containing this error is discarded as a whole.
inline constexpr bool is_fatal(DecodeError e) { return e <= DecodeError::reserved_set_id; }

struct DecoderLimits {
  uint32_t max_templates = 4096;  ///< per transport session, all domains together
  uint16_t max_fields = 512;      ///< per template
};

struct DecodedField {
  uint16_t element_id;
  uint16_t length;  ///< kVariableLength: variable
  uint32_t enterprise;
};

struct DecodedTemplate {
  uint16_t id = 0;
  uint16_t scope_fields = 0;  ///< > 0: an options template
  std::vector<DecodedField> fields;
  size_t min_record_length = 0;  ///< fixed fields plus 1 octet per variable field
  bool variable = false;
  std::vector<uint8_t> encoded;  ///< the template record as received (to write it again)
};

/// The templates of one transport session, per observation domain.
class TemplateStore {
 public:
  const DecodedTemplate* find(uint32_t domain, uint16_t id) const;
  size_t size() const { return templates_.size(); }
  void clear() { templates_.clear(); }

  /// Calls f(domain, template) for every template.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [key, t] : templates_) f(static_cast<uint32_t>(key >> 16), t);
  }

 private:
  friend class MessageReader;
  static uint64_t key(uint32_t domain, uint16_t id) { return uint64_t{domain} << 16 | id; }
  std::map<uint64_t, DecodedTemplate> templates_;
};

struct MessageHeader {
  uint16_t length = 0;
  uint32_t export_time = 0;
  uint32_t sequence = 0;
  uint32_t observation_domain = 0;
};

/// Receives each data record of a decoded message.
class RecordVisitor {
 public:
  virtual ~RecordVisitor() = default;
  virtual void record(const MessageHeader& header, const DecodedTemplate& tmpl,
                      std::span<const uint8_t> record) = 0;
};

struct DecodeResult {
  MessageHeader header;
  bool discarded = false;        ///< a fatal error: nothing of the message was used
  bool records_complete = true;  ///< false: some data records could not be decoded
  uint32_t data_records = 0;     ///< all of them, options records included
  uint32_t options_records = 0;  ///< of data_records, those of options templates
  uint32_t templates_added = 0;
  uint32_t templates_withdrawn = 0;
  std::array<uint32_t, kDecodeErrorCount> errors{};
  DecodeError first_error = DecodeError::count_;  ///< count_: none
};

class MessageReader {
 public:
  explicit MessageReader(DecoderLimits limits) : limits_(limits) {}

  /// Decodes one message: applies its template sets to `store` and passes its
  /// data records to `visitor` (may be null), in order.
  DecodeResult decode(std::span<const uint8_t> message, TemplateStore& store,
                      RecordVisitor* visitor) const;

 private:
  void read_template_set(std::span<const uint8_t> set, uint16_t set_id, uint32_t domain,
                         TemplateStore& store, DecodeResult& result) const;
  void read_data_set(std::span<const uint8_t> set, uint16_t set_id, const TemplateStore& store,
                     RecordVisitor* visitor, DecodeResult& result) const;

  DecoderLimits limits_;
};

/// Length of the variable-length field at `p` (RFC 7011 §7): sets `header` to
/// the octets of its length prefix. False when the prefix runs past `end`.
bool variable_field_length(const uint8_t* p, const uint8_t* end, size_t& header, size_t& length);

}  // namespace poolflow::ipfix
