// The templates of poolflow's flow records, one for IPv4 and one for IPv6, and
// the encoding of a FlowRecord into a data record of either.
#pragma once

#include <cstdint>

#include "ipfix/template.h"
#include "poolflow/flow_record.h"

namespace poolflow::ipfix {

inline constexpr uint16_t kIPv4FlowTemplateId = 256;
inline constexpr uint16_t kIPv6FlowTemplateId = 257;

const Template& ipv4_flow_template();
const Template& ipv6_flow_template();

/// The template a record is exported with.
inline const Template& flow_template_for(const FlowRecord& record) {
  return record.key.ip_version == 6 ? ipv6_flow_template() : ipv4_flow_template();
}

/// Writes `record` as a data record of flow_template_for(record) at `out`, which
/// has room for that template's record_length() octets.
void encode_flow_record(const FlowRecord& record, uint8_t* out);

}  // namespace poolflow::ipfix
