// The templates of poolflow's flow records: IPv4 and IPv6, each uniflow or
// biflow (RFC 5103, reverse elements under PEN 29305); and the encoding of a
// FlowRecord into a data record of its template.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "ipfix/template.h"
#include "poolflow/flow_record.h"

namespace poolflow::ipfix {

inline constexpr uint16_t kIPv4FlowTemplateId = 256;
inline constexpr uint16_t kIPv6FlowTemplateId = 257;
inline constexpr uint16_t kIPv4BiflowTemplateId = 258;
inline constexpr uint16_t kIPv6BiflowTemplateId = 259;
inline constexpr uint32_t kReversePen = 29305;  ///< RFC 5103 reverse information elements
/// Over SCTP the flows of the second reliability class use their own templates
/// (RFC 6526: loss is accounted per template): the ids above plus this offset,
/// announced with the reliability options template.
inline constexpr uint16_t kPartialTemplateOffset = 4;
/// Records exported again from the replay buffer in a later transport session
/// (after a failover) use the ids of their class plus this offset, the same
/// fields: a collector, and the merge of a pool's files, can tell them apart.
inline constexpr uint16_t kReplayTemplateOffset = 16;
inline constexpr uint16_t kReliabilityTemplateId = 264;
inline constexpr uint16_t kExportingReliabilityTemplateId = 265;
inline constexpr uint16_t kExportStatisticsTemplateId = 266;
inline constexpr uint16_t kMeteringReliabilityTemplateId = 267;

const Template& ipv4_flow_template();
const Template& ipv6_flow_template();
const Template& ipv4_biflow_template();
const Template& ipv6_biflow_template();

/// Every flow template, as a session announces them: IPv4, IPv6, IPv4 biflow,
/// IPv6 biflow.
std::span<const Template* const> flow_templates();

/// The place of a record's template in flow_templates().
inline size_t flow_template_index(const FlowRecord& record) {
  return (record.biflow ? 2 : 0) + (record.key.ip_version == 6 ? 1 : 0);
}

/// The template a record is exported with (with the ids of the first class).
inline const Template& flow_template_for(const FlowRecord& record) {
  return *flow_templates()[flow_template_index(record)];
}

/// Options template: scope templateId (145), dataRecordsReliability (276).
const Template& reliability_template();
inline constexpr size_t kReliabilityRecordLength = 3;

/// Writes a dataRecordsReliability record (RFC 6526 §4.3) for `template_id` at `out`.
void encode_reliability_record(uint16_t template_id, bool reliable, uint8_t* out);

/// Options template of the Exporting Process Reliability Statistics (RFC 7011
/// §4.3): scope exportingProcessId (144); notSentFlowTotalCount (166),
/// notSentPacketTotalCount (167), notSentOctetTotalCount (168), then
/// observationTimeMilliseconds (323) twice: the time the first and the time the
/// last flow record was not sent.
const Template& exporting_reliability_template();
inline constexpr size_t kExportingReliabilityRecordLength = 44;

void encode_exporting_reliability_record(uint32_t exporting_process, uint64_t flows,
                                         uint64_t packets, uint64_t octets, uint64_t first_ms,
                                         uint64_t last_ms, uint8_t* out);

/// Options template of the Metering Process Statistics as RFC 7011 §4.1 counts them
/// for an exporter: scope observationDomainId (149); exportedOctetTotalCount (40),
/// exportedMessageTotalCount (41), exportedFlowRecordTotalCount (42).
const Template& export_statistics_template();
inline constexpr size_t kExportStatisticsRecordLength = 28;

void encode_export_statistics_record(uint32_t domain, uint64_t octets, uint64_t messages,
                                     uint64_t records, uint8_t* out);

/// Options template of the Metering Process Reliability Statistics (RFC 7011
/// §4.2): scope observationDomainId (149); ignoredPacketTotalCount (164),
/// ignoredOctetTotalCount (165), then observationTimeMilliseconds (323) twice:
/// the time the first and the time the last packet was ignored.
const Template& metering_reliability_template();
inline constexpr size_t kMeteringReliabilityRecordLength = 36;

void encode_metering_reliability_record(uint32_t domain, uint64_t packets, uint64_t octets,
                                        uint64_t first_ms, uint64_t last_ms, uint8_t* out);

/// Writes `record` as a data record of flow_template_for(record) at `out`, which
/// has room for that template's record_length() octets.
void encode_flow_record(const FlowRecord& record, uint8_t* out);

}  // namespace poolflow::ipfix
