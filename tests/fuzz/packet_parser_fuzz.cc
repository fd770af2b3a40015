// libFuzzer target for the packet parser: any bytes, any frame length at least
// the captured length. The parser must never read outside the captured bytes
// (AddressSanitizer) and what it accepts must be self-consistent.
#include <cstdint>
#include <cstdlib>

#include "meter/packet_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 65535) return 0;
  // The first byte says how much longer the frame is than the bytes captured
  // (a frame cut by a snap length, or one spread over several mbufs).
  const uint32_t captured = static_cast<uint32_t>(size - 1);
  const uint32_t frame = captured + data[0] * 64u;
  // Copy into an exactly sized heap block so that ASan sees any over-read.
  auto* bytes = static_cast<uint8_t*>(std::malloc(captured ? captured : 1));
  for (uint32_t i = 0; i < captured; ++i) bytes[i] = data[i + 1];

  poolflow::meter::ParsedPacket packet;
  poolflow::meter::IgnoreReason why;
  if (poolflow::meter::parse_packet(bytes, captured, frame, packet, why)) {
    if (packet.key.ip_version != 4 && packet.key.ip_version != 6) std::abort();
    if (packet.ip_octets > frame) std::abort();
    if (packet.key.ip_version == 4 && packet.ip_octets < 20) std::abort();
    if (packet.key.ip_version == 6 && packet.ip_octets < 40) std::abort();
  } else if (why >= poolflow::meter::IgnoreReason::count_) {
    std::abort();
  }
  std::free(bytes);
  return 0;
}
