// Output specifications ("KIND:WHERE") and the factory behind open_transport().
#include <charconv>
#include <stdexcept>
#include <string_view>

#include "poolflow/transport.h"
#include "transport/file/file_transport.h"
#include "transport/sctp/sctp_transport.h"
#include "transport/tcp/tcp_transport.h"
#include "transport/udp/udp_transport.h"

namespace poolflow {

namespace {

bool parse_u32(std::string_view text, uint32_t& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

}  // namespace

ReliabilityPolicy parse_reliability(const std::string& text, std::string& error) {
  error.clear();
  if (text == "reliable") return {};
  const auto colon = text.find(':');
  const std::string_view kind = std::string_view(text).substr(0, colon);
  uint32_t value = 0;
  if (colon != std::string::npos && parse_u32(std::string_view(text).substr(colon + 1), value)) {
    if (kind == "ttl" && value >= 1 && value <= 600000) return {Reliability::ttl, value};
    if (kind == "rtx" && value <= 100) return {Reliability::rtx, value};
  }
  error = "expected \"reliable\", \"ttl:MS\" (1-600000) or \"rtx:N\" (0-100), got \"" + text + "\"";
  return {};
}

bool split_host_port(const std::string& where, std::string& host, uint16_t& port,
                     std::string& error) {
  const auto colon = where.rfind(':');
  uint32_t value = 0;
  if (colon == std::string::npos || colon == 0 ||
      !parse_u32(std::string_view(where).substr(colon + 1), value) || value == 0 || value > 65535) {
    error = "expected HOST:PORT (port 1-65535), got \"" + where + "\"";
    return false;
  }
  host = where.substr(0, colon);
  if (host.find(':') != std::string::npos && host.front() != '[') {
    error = "write an IPv6 address in brackets, [::1]:PORT, got \"" + where + "\"";
    return false;
  }
  port = static_cast<uint16_t>(value);
  return true;
}

std::string validate_transport_spec(const std::string& spec) {
  const auto colon = spec.find(':');
  if (colon == std::string::npos)
    return "expected KIND:WHERE (file:PATH, sctp:HOST:PORT, tcp:HOST:PORT, udp:HOST:PORT), got \"" +
           spec + "\"";
  const std::string_view kind = std::string_view(spec).substr(0, colon);
  const std::string where = spec.substr(colon + 1);
  if (kind == "file") return where.empty() ? "file: needs a path" : "";
  if (kind == "sctp" || kind == "tcp" || kind == "udp") {
    std::string host, error;
    uint16_t port = 0;
    return split_host_port(where, host, port, error) ? "" : std::string(kind) + ": " + error;
  }
  return "unknown output kind \"" + std::string(kind) + "\" (expected file, sctp, tcp or udp)";
}

std::unique_ptr<Transport> open_transport(const std::string& spec, const TransportOptions& options,
                                          Connect connect, TransportEvents events) {
  if (const std::string error = validate_transport_spec(spec); !error.empty())
    throw std::invalid_argument(error);
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  const std::string where = spec.substr(colon + 1);
  if (kind == "file") return std::make_unique<transport::FileTransport>(spec, where);
  std::string host, error;
  uint16_t port = 0;
  split_host_port(where, host, port, error);
  if (kind == "sctp")
    return std::make_unique<transport::SctpTransport>(spec, host, port, options, connect,
                                                      std::move(events));
  if (kind == "tcp") return std::make_unique<transport::TcpTransport>(spec, host, port, options);
  return std::make_unique<transport::UdpTransport>(spec, host, port, options);
}

}  // namespace poolflow
