#include "ipfix/element_registry.h"

#include <algorithm>
#include <array>
#include <utility>

namespace poolflow::ipfix {

namespace {

using T = ElementType;
// Sorted by id.
constexpr std::array<std::pair<uint16_t, ElementInfo>, 51> kElements = {{
    {1, {"octetDeltaCount", T::unsigned_int}},
    {2, {"packetDeltaCount", T::unsigned_int}},
    {4, {"protocolIdentifier", T::unsigned_int}},
    {5, {"ipClassOfService", T::unsigned_int}},
    {6, {"tcpControlBits", T::unsigned_int}},
    {7, {"sourceTransportPort", T::unsigned_int}},
    {8, {"sourceIPv4Address", T::ipv4_address}},
    {10, {"ingressInterface", T::unsigned_int}},
    {11, {"destinationTransportPort", T::unsigned_int}},
    {12, {"destinationIPv4Address", T::ipv4_address}},
    {14, {"egressInterface", T::unsigned_int}},
    {15, {"ipNextHopIPv4Address", T::ipv4_address}},
    {21, {"flowEndSysUpTime", T::unsigned_int}},
    {22, {"flowStartSysUpTime", T::unsigned_int}},
    {27, {"sourceIPv6Address", T::ipv6_address}},
    {28, {"destinationIPv6Address", T::ipv6_address}},
    {32, {"icmpTypeCodeIPv4", T::unsigned_int}},
    {40, {"exportedOctetTotalCount", T::unsigned_int}},
    {41, {"exportedMessageTotalCount", T::unsigned_int}},
    {42, {"exportedFlowRecordTotalCount", T::unsigned_int}},
    {56, {"sourceMacAddress", T::mac_address}},
    {58, {"vlanId", T::unsigned_int}},
    {60, {"ipVersion", T::unsigned_int}},
    {70, {"mplsTopLabelStackSection", T::octets}},
    {80, {"destinationMacAddress", T::mac_address}},
    {85, {"octetTotalCount", T::unsigned_int}},
    {86, {"packetTotalCount", T::unsigned_int}},
    {130, {"exporterIPv4Address", T::ipv4_address}},
    {131, {"exporterIPv6Address", T::ipv6_address}},
    {136, {"flowEndReason", T::unsigned_int}},
    {139, {"icmpTypeCodeIPv6", T::unsigned_int}},
    {143, {"meteringProcessId", T::unsigned_int}},
    {144, {"exportingProcessId", T::unsigned_int}},
    {145, {"templateId", T::unsigned_int}},
    {149, {"observationDomainId", T::unsigned_int}},
    {150, {"flowStartSeconds", T::unsigned_int}},
    {151, {"flowEndSeconds", T::unsigned_int}},
    {152, {"flowStartMilliseconds", T::unsigned_int}},
    {153, {"flowEndMilliseconds", T::unsigned_int}},
    {156, {"flowStartNanoseconds", T::unsigned_int}},
    {157, {"flowEndNanoseconds", T::unsigned_int}},
    {164, {"ignoredPacketTotalCount", T::unsigned_int}},
    {165, {"ignoredOctetTotalCount", T::unsigned_int}},
    {166, {"notSentFlowTotalCount", T::unsigned_int}},
    {167, {"notSentPacketTotalCount", T::unsigned_int}},
    {168, {"notSentOctetTotalCount", T::unsigned_int}},
    {276, {"dataRecordsReliability", T::boolean}},
    {322, {"observationTimeSeconds", T::unsigned_int}},
    {323, {"observationTimeMilliseconds", T::unsigned_int}},
    {324, {"observationTimeMicroseconds", T::unsigned_int}},
    {325, {"observationTimeNanoseconds", T::unsigned_int}},
}};
static_assert(std::is_sorted(kElements.begin(), kElements.end(),
                             [](const auto& a, const auto& b) { return a.first < b.first; }));

}  // namespace

const ElementInfo* find_element(uint16_t id) {
  const auto it = std::lower_bound(kElements.begin(), kElements.end(), id,
                                   [](const auto& e, uint16_t v) { return e.first < v; });
  return it != kElements.end() && it->first == id ? &it->second : nullptr;
}

std::string element_key(uint16_t id, uint32_t enterprise) {
  if (enterprise == 0)
    if (const ElementInfo* info = find_element(id)) return std::string(info->name);
  std::string key = "e";
  key.append(std::to_string(enterprise)).append("id").append(std::to_string(id));
  return key;
}

}  // namespace poolflow::ipfix
