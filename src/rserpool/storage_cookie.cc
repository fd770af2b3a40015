#include "rserpool/storage_cookie.h"

#include <algorithm>
#include <iterator>

#include "poolflow/byte_order.h"

namespace poolflow::rserpool {

namespace {
constexpr uint8_t kMagic[4] = {'P', 'F', 'S', 'C'};
constexpr uint8_t kVersion = 1;
constexpr size_t kHeader = 32;
constexpr size_t kPosition = 12;
}  // namespace

std::vector<uint8_t> encode_storage_cookie(const StorageCookie& cookie) {
  const size_t count = std::min(cookie.positions.size(), StorageCookie::kMaxPositions);
  std::vector<uint8_t> out(kHeader + count * kPosition, 0);
  std::copy(std::begin(kMagic), std::end(kMagic), out.begin());
  out[4] = kVersion;
  store_be32(&out[8], cookie.collector_pe);
  store_be64(&out[12], cookie.session);
  store_be64(&out[20], cookie.stored_ms);
  store_be16(&out[28], static_cast<uint16_t>(count));
  for (size_t i = 0; i < count; ++i) {
    uint8_t* p = &out[kHeader + i * kPosition];
    store_be16(p, cookie.positions[i].stream);
    store_be32(p + 4, cookie.positions[i].domain);
    store_be32(p + 8, cookie.positions[i].next_sequence);
  }
  return out;
}

std::optional<StorageCookie> decode_storage_cookie(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeader || !std::equal(std::begin(kMagic), std::end(kMagic), bytes.begin()) ||
      bytes[4] != kVersion)
    return std::nullopt;
  const size_t count = load_be16(&bytes[28]);
  if (count > StorageCookie::kMaxPositions || bytes.size() != kHeader + count * kPosition)
    return std::nullopt;
  StorageCookie cookie;
  cookie.collector_pe = load_be32(&bytes[8]);
  cookie.session = load_be64(&bytes[12]);
  cookie.stored_ms = load_be64(&bytes[20]);
  cookie.positions.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const uint8_t* p = &bytes[kHeader + i * kPosition];
    cookie.positions.push_back({load_be16(p), load_be32(p + 4), load_be32(p + 8)});
  }
  return cookie;
}

}  // namespace poolflow::rserpool
