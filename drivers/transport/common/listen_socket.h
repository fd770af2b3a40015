// Listening sockets for the TCP and UDP listeners.
#pragma once

#include <cstdint>
#include <string>

namespace poolflow::transport {

/// A non-blocking socket of `type` (SOCK_STREAM listening, or SOCK_DGRAM) bound
/// to HOST:PORT with SO_RCVBUF `receive_buffer`. Sets `where` to the bound
/// address (the real port when PORT was 0). Throws std::runtime_error.
int open_listen_socket(const std::string& host, uint16_t port, int type, int receive_buffer,
                       std::string& where);

}  // namespace poolflow::transport
