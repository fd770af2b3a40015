#include "ipfix/flow_templates.h"

#include <array>
#include <cstring>

#include "ipfix/byte_order.h"
#include "ipfix/information_elements.h"

namespace poolflow::ipfix {

namespace {

constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoIcmpV6 = 58;

// 8-byte fields first, then decreasing sizes: the order of encode_flow_record().
constexpr std::array<FieldSpec, 14> kIPv4Fields = {{
    {ie::flowStartMilliseconds, 8},
    {ie::flowEndMilliseconds, 8},
    {ie::octetDeltaCount, 8},
    {ie::packetDeltaCount, 8},
    {ie::sourceIPv4Address, 4},
    {ie::destinationIPv4Address, 4},
    {ie::ingressInterface, 4},
    {ie::sourceTransportPort, 2},
    {ie::destinationTransportPort, 2},
    {ie::icmpTypeCodeIPv4, 2},
    {ie::vlanId, 2},
    {ie::tcpControlBits, 2},
    {ie::protocolIdentifier, 1},
    {ie::flowEndReason, 1},
}};

constexpr std::array<FieldSpec, 14> kIPv6Fields = {{
    {ie::flowStartMilliseconds, 8},
    {ie::flowEndMilliseconds, 8},
    {ie::octetDeltaCount, 8},
    {ie::packetDeltaCount, 8},
    {ie::sourceIPv6Address, 16},
    {ie::destinationIPv6Address, 16},
    {ie::ingressInterface, 4},
    {ie::sourceTransportPort, 2},
    {ie::destinationTransportPort, 2},
    {ie::icmpTypeCodeIPv6, 2},
    {ie::vlanId, 2},
    {ie::tcpControlBits, 2},
    {ie::protocolIdentifier, 1},
    {ie::flowEndReason, 1},
}};

constexpr std::array<FieldSpec, 2> kReliabilityFields = {{
    {ie::templateId, 2},
    {ie::dataRecordsReliability, 1},
}};

constexpr std::array<FieldSpec, 4> kExportingReliabilityFields = {{
    {ie::exportingProcessId, 4},
    {ie::notSentFlowTotalCount, 8},
    {ie::notSentPacketTotalCount, 8},
    {ie::notSentOctetTotalCount, 8},
}};

constexpr std::array<FieldSpec, 4> kExportStatisticsFields = {{
    {ie::observationDomainId, 4},
    {ie::exportedOctetTotalCount, 8},
    {ie::exportedMessageTotalCount, 8},
    {ie::exportedFlowRecordTotalCount, 8},
}};

constexpr Template kIPv4Template{kIPv4FlowTemplateId, kIPv4Fields};
constexpr Template kExportStatisticsTemplate{kExportStatisticsTemplateId, kExportStatisticsFields,
                                             1};
static_assert(kExportStatisticsTemplate.record_length() == kExportStatisticsRecordLength);
constexpr Template kExportingReliabilityTemplate{kExportingReliabilityTemplateId,
                                                 kExportingReliabilityFields, 1};
static_assert(kExportingReliabilityTemplate.record_length() == kExportingReliabilityRecordLength);
constexpr Template kReliabilityTemplate{kReliabilityTemplateId, kReliabilityFields, 1};
static_assert(kReliabilityTemplate.record_length() == kReliabilityRecordLength);
constexpr Template kIPv6Template{kIPv6FlowTemplateId, kIPv6Fields};
static_assert(kIPv4Template.record_length() == 56);
static_assert(kIPv6Template.record_length() == 80);

}  // namespace

const Template& ipv4_flow_template() { return kIPv4Template; }
const Template& ipv6_flow_template() { return kIPv6Template; }
const Template& reliability_template() { return kReliabilityTemplate; }
const Template& exporting_reliability_template() { return kExportingReliabilityTemplate; }
const Template& export_statistics_template() { return kExportStatisticsTemplate; }

void encode_export_statistics_record(uint32_t domain, uint64_t octets, uint64_t messages,
                                     uint64_t records, uint8_t* out) {
  store_be32(out, domain);
  store_be64(out + 4, octets);
  store_be64(out + 12, messages);
  store_be64(out + 20, records);
}

void encode_exporting_reliability_record(uint32_t exporting_process, uint64_t flows,
                                         uint64_t packets, uint64_t octets, uint8_t* out) {
  store_be32(out, exporting_process);
  store_be64(out + 4, flows);
  store_be64(out + 12, packets);
  store_be64(out + 20, octets);
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
  store_be16(p + 4, icmp ? 0 : key.src_port);
  store_be16(p + 6, icmp ? 0 : key.dst_port);
  store_be16(p + 8, icmp ? key.dst_port : 0);
  store_be16(p + 10, key.vlan_id);
  store_be16(p + 12, record.tcp_flags);
  p[14] = key.protocol;
  p[15] = static_cast<uint8_t>(record.end_reason);
}

}  // namespace poolflow::ipfix
