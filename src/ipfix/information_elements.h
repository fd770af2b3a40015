// IPFIX information element identifiers used by poolflow (RFC 7012, IANA registry).
#pragma once

#include <cstdint>

namespace poolflow::ipfix::ie {

constexpr uint16_t octetDeltaCount = 1;
constexpr uint16_t exportedOctetTotalCount = 40;
constexpr uint16_t exportedMessageTotalCount = 41;
constexpr uint16_t exportedFlowRecordTotalCount = 42;
constexpr uint16_t observationDomainId = 149;
constexpr uint16_t ignoredPacketTotalCount = 164;
constexpr uint16_t ignoredOctetTotalCount = 165;
constexpr uint16_t packetDeltaCount = 2;
constexpr uint16_t protocolIdentifier = 4;
constexpr uint16_t tcpControlBits = 6;
constexpr uint16_t sourceTransportPort = 7;
constexpr uint16_t sourceIPv4Address = 8;
constexpr uint16_t ingressInterface = 10;
constexpr uint16_t destinationTransportPort = 11;
constexpr uint16_t destinationIPv4Address = 12;
constexpr uint16_t sourceIPv6Address = 27;
constexpr uint16_t destinationIPv6Address = 28;
constexpr uint16_t icmpTypeCodeIPv4 = 32;
constexpr uint16_t vlanId = 58;
constexpr uint16_t mplsTopLabelStackSection = 70;
constexpr uint16_t flowEndReason = 136;
constexpr uint16_t icmpTypeCodeIPv6 = 139;
constexpr uint16_t flowStartMilliseconds = 152;
constexpr uint16_t flowEndMilliseconds = 153;
constexpr uint16_t dot1qCustomerVlanId = 245;
constexpr uint16_t exportingProcessId = 144;
constexpr uint16_t templateId = 145;
constexpr uint16_t notSentFlowTotalCount = 166;
constexpr uint16_t notSentPacketTotalCount = 167;
constexpr uint16_t notSentOctetTotalCount = 168;
constexpr uint16_t dataRecordsReliability = 276;
constexpr uint16_t observationTimeMilliseconds = 323;

}  // namespace poolflow::ipfix::ie
