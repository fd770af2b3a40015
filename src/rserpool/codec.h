// Encoding and decoding of ASAP and ENRP messages (RFC 5352, 5353, 5354).
// Nothing from the wire is trusted: every length is checked against what
// contains it, nesting is bounded, and a malformed message yields an error, not
// a partial message. Unknown parameters follow the action in their type's top
// two bits; those to report are returned whole for an "unrecognized parameter"
// cause.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "rserpool/message.h"

namespace poolflow::rserpool {

enum class DecodeError : uint8_t {
  none,
  too_short,            ///< shorter than a header
  length_mismatch,      ///< header length is not the received length
  too_long,             ///< over the receiver's message size limit
  unknown_message,      ///< a type this protocol does not define
  parameter_too_short,  ///< a parameter length below 4, or below its fixed part
  parameter_overrun,    ///< a parameter (or cause) reaching past what contains it
  nesting_too_deep,
  invalid_value,  ///< a field with an impossible value, or a wrong parameter
  missing_parameter,
  unexpected_parameter,  ///< a known parameter this message does not carry, or twice
  unknown_parameter,     ///< an unknown parameter whose action says stop
};
inline constexpr int kDecodeErrorCount = 12;

const char* decode_error_name(DecodeError e);

/// The operation error cause that answers a decode error (RFC 5354 §3.10).
Cause cause_for(DecodeError e);

struct DecodeResult {
  DecodeError error = DecodeError::none;
  std::string detail;  ///< what was wrong, and where
  Message message;     ///< meaningful only without error
  /// Unknown parameters whose action says "report", each as on the wire.
  std::vector<std::vector<uint8_t>> to_report;

  bool ok() const { return error == DecodeError::none; }
};

/// Decodes one whole message (SCTP delivers messages whole).
DecodeResult decode(Protocol protocol, std::span<const uint8_t> bytes, size_t max_size = 65535);

/// Appends the message's encoding to `out`. Fields the message type does not
/// carry are not encoded. Throws std::length_error when it, or a parameter in
/// it, would exceed 65535 octets.
void encode(const Message& message, std::vector<uint8_t>& out);
std::vector<uint8_t> encode(const Message& message);

/// One parameter as on the wire, padding included: what operation error
/// causes 3, 5, 7 and 8 carry to show the offending parameter (RFC 5354 §3.10).
std::vector<uint8_t> encode_parameter(const PoolElement& element);
std::vector<uint8_t> encode_parameter(const Transport& transport);
std::vector<uint8_t> encode_parameter(const Policy& policy);
std::vector<uint8_t> encode_handle_parameter(const std::string& handle);

/// An operation error cause of `code` carrying `bytes` (e.g. a parameter or a
/// message as received, for causes 1 to 3).
ErrorCause make_cause(Cause code, std::span<const uint8_t> bytes = {});

}  // namespace poolflow::rserpool
