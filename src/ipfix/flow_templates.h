// The templates of poolflow's flow records: IPv4 and IPv6, each uniflow or
// biflow (RFC 5103, reverse elements under PEN 29305); and the encoding of a
// FlowRecord into a data record of its template.
#pragma once

#include <cstdint>

#include "ipfix/template.h"
#include "poolflow/flow_record.h"

namespace poolflow::ipfix {

inline constexpr uint16_t kIPv4FlowTemplateId = 256;
inline constexpr uint16_t kIPv6FlowTemplateId = 257;
inline constexpr uint16_t kIPv4BiflowTemplateId = 258;
inline constexpr uint16_t kIPv6BiflowTemplateId = 259;
inline constexpr uint32_t kReversePen = 29305;  ///< RFC 5103 reverse information elements

const Template& ipv4_flow_template();
const Template& ipv6_flow_template();
const Template& ipv4_biflow_template();
const Template& ipv6_biflow_template();

/// Every flow template, as a session announces them.
std::span<const Template* const> flow_templates();

/// The template a record is exported with.
inline const Template& flow_template_for(const FlowRecord& record) {
  if (record.biflow)
    return record.key.ip_version == 6 ? ipv6_biflow_template() : ipv4_biflow_template();
  return record.key.ip_version == 6 ? ipv6_flow_template() : ipv4_flow_template();
}

/// Writes `record` as a data record of flow_template_for(record) at `out`, which
/// has room for that template's record_length() octets.
void encode_flow_record(const FlowRecord& record, uint8_t* out);

}  // namespace poolflow::ipfix
