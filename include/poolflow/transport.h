// The transport interface: where finished IPFIX messages go. One implementation
// per way out (drivers/transport/*): RFC 5655 file now; SCTP, TCP and UDP next.
// A transport is one transport session in RFC 7011's sense: templates sent on
// it belong to it, and a new session starts with templates again.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace poolflow {

class Transport {
 public:
  virtual ~Transport() = default;

  /// Sends one whole IPFIX message; false when it could not be sent.
  virtual bool send(std::span<const uint8_t> message) = 0;

  /// Pushes out anything buffered (to the disk, onto the wire).
  virtual bool flush() = 0;

  /// The output as the user wrote it, e.g. "file:/var/lib/poolflow/flows.ipfix".
  virtual const std::string& name() const = 0;
};

/// Parses an output specification ("file:PATH") and opens it. Throws
/// std::invalid_argument for a malformed or unsupported specification and
/// std::system_error when the output cannot be opened.
std::unique_ptr<Transport> open_transport(const std::string& spec);

/// Checks an output specification without opening it; returns an empty string
/// when it is valid, otherwise what is wrong with it.
std::string validate_transport_spec(const std::string& spec);

}  // namespace poolflow
