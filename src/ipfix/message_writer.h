// Builds one IPFIX message (RFC 7011 §3) at a time in a buffer allocated once:
// a template set and/or data sets, never larger than the configured maximum.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "ipfix/template.h"

namespace poolflow::ipfix {

inline constexpr uint16_t kVersion = 10;
inline constexpr uint16_t kTemplateSetId = 2;
inline constexpr uint16_t kOptionsTemplateSetId = 3;
inline constexpr size_t kMessageHeaderLength = 16;
inline constexpr size_t kSetHeaderLength = 4;

class MessageWriter {
 public:
  explicit MessageWriter(size_t max_message_length);

  /// Starts an empty message (drops whatever was being built).
  void reset();

  /// Appends a template set holding `templates`, or an options template set when
  /// they are options templates (all of one kind). False if it does not fit.
  bool add_template_set(std::span<const Template* const> templates);

  /// Reserves one data record of `length` octets for `template_id`, opening a data
  /// set when the previous record belonged to another template. Returns where the
  /// caller writes the record, or nullptr when the message has no room left.
  uint8_t* add_record(uint16_t template_id, size_t length);

  bool empty() const { return length_ == kMessageHeaderLength; }
  uint32_t data_records() const { return data_records_; }
  size_t max_length() const { return buffer_.size(); }

  /// Closes the last set, writes the message header and returns the message.
  std::span<const uint8_t> finish(uint32_t export_time, uint32_t sequence,
                                  uint32_t observation_domain);

 private:
  void close_set();

  std::vector<uint8_t> buffer_;
  size_t length_ = kMessageHeaderLength;
  size_t open_set_offset_ = 0;  ///< 0: no set open
  uint16_t open_set_id_ = 0;
  uint32_t data_records_ = 0;
};

}  // namespace poolflow::ipfix
