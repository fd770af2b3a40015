// Helpers shared by the rserpool state machine tests.
#pragma once

#include <gtest/gtest.h>

#include "rserpool/codec.h"

namespace poolflow::rserpool::testing {

// A message as its peer would decode it: it must survive the codec.
inline Message wire(const Message& m) {
  const DecodeResult r = decode(Protocol::asap, encode(m));
  EXPECT_TRUE(r.ok()) << decode_error_name(r.error) << ": " << r.detail;
  return r.message;
}

}  // namespace poolflow::rserpool::testing
