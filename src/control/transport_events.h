// How the control core learns that a transport it opened came up or went
// down: usrsctp's threads put an SctpEvent with the transport's tag on the
// control core's queue, the one the registrar association's events come on.
// Tags say whose transport it is.
#pragma once

#include <cstdint>

#include "poolflow/transport.h"
#include "transport/sctp/sctp_messages.h"

namespace poolflow::control {

/// Tag spaces: the pool output's registrar associations count from 1; its
/// transports to pool elements, and the fixed outputs' transports, have these.
inline constexpr uint64_t kTagOwnerMask = 3ull << 62;
inline constexpr uint64_t kPoolElementTags = 1ull << 62;
inline constexpr uint64_t kFixedOutputTags = 2ull << 62;

inline TransportEvents queue_events(transport::SctpEventQueue& queue, uint64_t tag) {
  return [&queue, tag](bool up) {
    transport::SctpEvent event;
    event.kind = up ? transport::SctpEvent::Kind::up : transport::SctpEvent::Kind::down;
    event.association = tag;
    queue.push(std::move(event));
  };
}

}  // namespace poolflow::control
