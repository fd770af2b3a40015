#include "ipfix/flow_templates.h"

#include <array>
#include <cstring>

#include "poolflow/byte_order.h"
#include "ipfix/information_elements.h"

namespace poolflow::ipfix {

namespace {

constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoIcmpV6 = 58;

// Wider fields first: the order of encode_flow_record().
constexpr std::array<FieldSpec, 16> kIPv4Fields = {{
    {ie::flowStartMilliseconds, 8},
    {ie::flowEndMilliseconds, 8},
    {ie::octetDeltaCount, 8},
    {ie::packetDeltaCount, 8},
    {ie::sourceIPv4Address, 4},
    {ie::destinationIPv4Address, 4},
    {ie::ingressInterface, 4},
    {ie::mplsTopLabelStackSection, 3},
    {ie::sourceTransportPort, 2},
    {ie::destinationTransportPort, 2},
    {ie::icmpTypeCodeIPv4, 2},
    {ie::vlanId, 2},
    {ie::dot1qCustomerVlanId, 2},
    {ie::tcpControlBits, 2},
    {ie::protocolIdentifier, 1},
    {ie::flowEndReason, 1},
}};

constexpr std::array<FieldSpec, 16> kIPv6Fields = {{
    {ie::flowStartMilliseconds, 8},
    {ie::flowEndMilliseconds, 8},
    {ie::octetDeltaCount, 8},
    {ie::packetDeltaCount, 8},
    {ie::sourceIPv6Address, 16},
    {ie::destinationIPv6Address, 16},
    {ie::ingressInterface, 4},
    {ie::mplsTopLabelStackSection, 3},
    {ie::sourceTransportPort, 2},
    {ie::destinationTransportPort, 2},
    {ie::icmpTypeCodeIPv6, 2},
    {ie::vlanId, 2},
    {ie::dot1qCustomerVlanId, 2},
    {ie::tcpControlBits, 2},
    {ie::protocolIdentifier, 1},
    {ie::flowEndReason, 1},
}};

// Biflows: the uniflow fields, then reverse octets, packets and TCP flags.
constexpr std::array<FieldSpec, 3> kReverseFields = {{
    {ie::octetDeltaCount, 8, kReversePen},
    {ie::packetDeltaCount, 8, kReversePen},
    {ie::tcpControlBits, 2, kReversePen},
}};

template <size_t N, size_t M>
constexpr std::array<FieldSpec, N + M> concat(const std::array<FieldSpec, N>& a,
                                              const std::array<FieldSpec, M>& b) {
  std::array<FieldSpec, N + M> out{};
  for (size_t i = 0; i < N; ++i) out[i] = a[i];
  for (size_t i = 0; i < M; ++i) out[N + i] = b[i];
  return out;
}

constexpr auto kIPv4BiflowFields = concat(kIPv4Fields, kReverseFields);
constexpr auto kIPv6BiflowFields = concat(kIPv6Fields, kReverseFields);

constexpr std::array<FieldSpec, 2> kReliabilityFields = {{
    {ie::templateId, 2},
    {ie::dataRecordsReliability, 1},
}};

// The two time stamps in the order the Exporting Process sets them (RFC 7011 §8):
// first flow record not sent, last flow record not sent.
constexpr std::array<FieldSpec, 6> kExportingReliabilityFields = {{
    {ie::exportingProcessId, 4},
    {ie::notSentFlowTotalCount, 8},
    {ie::notSentPacketTotalCount, 8},
    {ie::notSentOctetTotalCount, 8},
    {ie::observationTimeMilliseconds, 8},
    {ie::observationTimeMilliseconds, 8},
}};

constexpr std::array<FieldSpec, 4> kExportStatisticsFields = {{
    {ie::observationDomainId, 4},
    {ie::exportedOctetTotalCount, 8},
    {ie::exportedMessageTotalCount, 8},
    {ie::exportedFlowRecordTotalCount, 8},
}};

// The two time stamps in the order the Metering Process sets them (RFC 7011 §8):
// first packet ignored, last packet ignored.
constexpr std::array<FieldSpec, 5> kMeteringReliabilityFields = {{
    {ie::observationDomainId, 4},
    {ie::ignoredPacketTotalCount, 8},
    {ie::ignoredOctetTotalCount, 8},
    {ie::observationTimeMilliseconds, 8},
    {ie::observationTimeMilliseconds, 8},
}};

constexpr Template kIPv4Template{kIPv4FlowTemplateId, kIPv4Fields};
constexpr Template kMeteringReliabilityTemplate{kMeteringReliabilityTemplateId,
                                                kMeteringReliabilityFields, 1};
static_assert(kMeteringReliabilityTemplate.record_length() == kMeteringReliabilityRecordLength);
constexpr Template kExportStatisticsTemplate{kExportStatisticsTemplateId, kExportStatisticsFields,
                                             1};
static_assert(kExportStatisticsTemplate.record_length() == kExportStatisticsRecordLength);
constexpr Template kExportingReliabilityTemplate{kExportingReliabilityTemplateId,
                                                 kExportingReliabilityFields, 1};
static_assert(kExportingReliabilityTemplate.record_length() == kExportingReliabilityRecordLength);
constexpr Template kReliabilityTemplate{kReliabilityTemplateId, kReliabilityFields, 1};
static_assert(kReliabilityTemplate.record_length() == kReliabilityRecordLength);
constexpr Template kIPv6Template{kIPv6FlowTemplateId, kIPv6Fields};
static_assert(kIPv4Template.record_length() == 61);
static_assert(kIPv6Template.record_length() == 85);
constexpr Template kIPv4BiflowTemplate{kIPv4BiflowTemplateId, kIPv4BiflowFields};
constexpr Template kIPv6BiflowTemplate{kIPv6BiflowTemplateId, kIPv6BiflowFields};
constexpr std::array<const Template*, 4> kAllTemplates = {
    &kIPv4Template, &kIPv6Template, &kIPv4BiflowTemplate, &kIPv6BiflowTemplate};

}  // namespace

const Template& ipv4_flow_template() { return kIPv4Template; }
const Template& ipv6_flow_template() { return kIPv6Template; }
const Template& ipv4_biflow_template() { return kIPv4BiflowTemplate; }
const Template& ipv6_biflow_template() { return kIPv6BiflowTemplate; }
std::span<const Template* const> flow_templates() { return kAllTemplates; }

const Template& reliability_template() { return kReliabilityTemplate; }
const Template& exporting_reliability_template() { return kExportingReliabilityTemplate; }
const Template& export_statistics_template() { return kExportStatisticsTemplate; }
const Template& metering_reliability_template() { return kMeteringReliabilityTemplate; }

void encode_metering_reliability_record(uint32_t domain, uint64_t packets, uint64_t octets,
                                        uint64_t first_ms, uint64_t last_ms, uint8_t* out) {
  store_be32(out, domain);
  store_be64(out + 4, packets);
  store_be64(out + 12, octets);
  store_be64(out + 20, first_ms);
  store_be64(out + 28, last_ms);
}

void encode_export_statistics_record(uint32_t domain, uint64_t octets, uint64_t messages,
                                     uint64_t records, uint8_t* out) {
  store_be32(out, domain);
  store_be64(out + 4, octets);
  store_be64(out + 12, messages);
  store_be64(out + 20, records);
}

void encode_exporting_reliability_record(uint32_t exporting_process, uint64_t flows,
                                         uint64_t packets, uint64_t octets, uint64_t first_ms,
                                         uint64_t last_ms, uint8_t* out) {
  store_be32(out, exporting_process);
  store_be64(out + 4, flows);
  store_be64(out + 12, packets);
  store_be64(out + 20, octets);
  store_be64(out + 28, first_ms);
  store_be64(out + 36, last_ms);
}

void encode_reliability_record(uint16_t template_id, bool reliable, uint8_t* out) {
  store_be16(out, template_id);
  out[2] = reliable ? 1 : 2;  // IPFIX boolean: 1 true, 2 false (RFC 7011 §6.1.5)
}

void encode_flow_record(const FlowRecord& record, uint8_t* out) {
  const FlowKey& key = record.key;
  const bool icmp = key.protocol == (key.ip_version == 6 ? kProtoIcmpV6 : kProtoIcmp);
  const size_t address_length = key.ip_version == 6 ? 16 : 4;

  store_be64(out, record.first_ms);
  store_be64(out + 8, record.last_ms);
  store_be64(out + 16, record.octets);
  store_be64(out + 24, record.packets);
  uint8_t* p = out + 32;
  std::memcpy(p, key.src_addr.data(), address_length);
  std::memcpy(p + address_length, key.dst_addr.data(), address_length);
  p += 2 * address_length;
  store_be32(p, key.ingress_port);
  std::memcpy(p + 4, record.mpls_top_label.data(), 3);
  p += 7;
  store_be16(p, icmp ? 0 : key.src_port);
  store_be16(p + 2, icmp ? 0 : key.dst_port);
  store_be16(p + 4, icmp ? key.dst_port : 0);
  store_be16(p + 6, key.vlan_id);
  store_be16(p + 8, key.inner_vlan_id);
  store_be16(p + 10, record.tcp_flags);
  p[12] = key.protocol;
  p[13] = static_cast<uint8_t>(record.end_reason);
  if (record.biflow) {
    store_be64(p + 14, record.reverse_octets);
    store_be64(p + 22, record.reverse_packets);
    store_be16(p + 30, record.reverse_tcp_flags);
  }
}

}  // namespace poolflow::ipfix
