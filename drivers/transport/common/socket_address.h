// Socket addresses for the network transports: resolution and printing.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace poolflow::transport {

/// Resolves HOST (name or numeric, "[v6]" allowed) and PORT. Throws
/// std::runtime_error when it does not resolve.
void resolve(const std::string& host, uint16_t port, sockaddr_storage& address, socklen_t& length);

/// "127.0.0.1:4739" / "[::1]:4739".
std::string address_text(const sockaddr* address);

}  // namespace poolflow::transport
