// Output specifications ("KIND:WHERE") and the factory behind open_transport().
#include <stdexcept>
#include <string_view>

#include "transport/file/file_transport.h"
#include "poolflow/transport.h"

namespace poolflow {

std::string validate_transport_spec(const std::string& spec) {
  const auto colon = spec.find(':');
  if (colon == std::string::npos)
    return "expected KIND:WHERE (file:PATH), got \"" + spec + "\"";
  const std::string_view kind = std::string_view(spec).substr(0, colon);
  const std::string_view where = std::string_view(spec).substr(colon + 1);
  if (kind == "file") return where.empty() ? "file: needs a path" : "";
  if (kind == "sctp" || kind == "tcp" || kind == "udp")
    return std::string(kind) + " output is not available yet (only file:PATH)";
  return "unknown output kind \"" + std::string(kind) + "\" (expected file)";
}

std::unique_ptr<Transport> open_transport(const std::string& spec) {
  if (const std::string error = validate_transport_spec(spec); !error.empty())
    throw std::invalid_argument(error);
  const auto colon = spec.find(':');
  return std::make_unique<transport::FileTransport>(spec, spec.substr(colon + 1));
}

}  // namespace poolflow
