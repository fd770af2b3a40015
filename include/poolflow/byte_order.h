// Big-endian stores and loads on unaligned buffers, for the wire codecs (IPFIX,
// ASAP/ENRP) and the transports.
#pragma once

#include <cstdint>

namespace poolflow {

inline void store_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void store_be32(uint8_t* p, uint32_t v) {
  store_be16(p, static_cast<uint16_t>(v >> 16));
  store_be16(p + 2, static_cast<uint16_t>(v));
}
inline void store_be64(uint8_t* p, uint64_t v) {
  store_be32(p, static_cast<uint32_t>(v >> 32));
  store_be32(p + 4, static_cast<uint32_t>(v));
}
inline uint16_t load_be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t load_be32(const uint8_t* p) {
  return static_cast<uint32_t>(load_be16(p)) << 16 | load_be16(p + 2);
}
inline uint64_t load_be64(const uint8_t* p) {
  return static_cast<uint64_t>(load_be32(p)) << 32 | load_be32(p + 4);
}

}  // namespace poolflow
