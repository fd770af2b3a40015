// IPFIX templates (RFC 7011 §3.4.1) with fixed-length fields.
#pragma once

#include <cstdint>
#include <span>

namespace poolflow::ipfix {

struct FieldSpec {
  uint16_t element_id;
  uint16_t length;
  uint32_t enterprise = 0;  ///< 0: IANA element; otherwise the private enterprise number
};

struct Template {
  uint16_t id;  ///< >= 256
  std::span<const FieldSpec> fields;
  uint16_t scope_fields = 0;  ///< > 0: an options template, its first fields are the scope

  /// Octets of one data record.
  constexpr size_t record_length() const {
    size_t length = 0;
    for (const FieldSpec& field : fields) length += field.length;
    return length;
  }
  /// Octets of this template's record inside a template set.
  constexpr size_t encoded_length() const {
    size_t length = scope_fields > 0 ? 6 : 4;
    for (const FieldSpec& field : fields) length += field.enterprise ? 8 : 4;
    return length;
  }
};

}  // namespace poolflow::ipfix
