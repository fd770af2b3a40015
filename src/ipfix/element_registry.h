// Names and abstract types of the IANA information elements a decoder can
// print (RFC 7012 §3.1, IANA IPFIX registry); others print as "e<PEN>id<N>".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace poolflow::ipfix {

enum class ElementType : uint8_t {
  unsigned_int,  ///< unsigned8..64, also dateTime* (as their integer value)
  ipv4_address,
  ipv6_address,
  mac_address,
  string,
  boolean,
  octets,  ///< anything else: printed as hex
};

struct ElementInfo {
  std::string_view name;
  ElementType type;
};

/// The IANA element `id` (enterprise 0), or nullptr when this table lacks it.
const ElementInfo* find_element(uint16_t id);

/// The key a decoded field is printed under: its IANA name, or "e<PEN>id<N>".
std::string element_key(uint16_t id, uint32_t enterprise);

}  // namespace poolflow::ipfix
