#include "meter/flow_table.h"

#include <bit>

namespace poolflow::meter {

FlowTable::FlowTable(uint32_t capacity) {
  const uint32_t buckets = std::bit_ceil(std::max<uint32_t>(2, (capacity + kWays - 1) / kWays));
  bucket_mask_ = buckets - 1;
  signatures_ = std::make_unique<uint16_t[]>(size_t{buckets} * kWays);
  flows_ = std::make_unique<FlowRecord[]>(size_t{buckets} * kWays);
}

}  // namespace poolflow::meter
