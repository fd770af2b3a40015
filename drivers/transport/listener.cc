// Listener specifications ("KIND:HOST:PORT") and the factory behind open_listener().
#include <atomic>
#include <stdexcept>

#include "poolflow/listener.h"
#include "poolflow/transport.h"
#include "transport/sctp/sctp_listener.h"
#include "transport/tcp/tcp_listener.h"
#include "transport/udp/udp_listener.h"

namespace poolflow {

uint64_t next_session_id() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1);
}

std::unique_ptr<Listener> open_listener(const std::string& spec, const ListenerOptions& options,
                                        MessageSink& sink) {
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon == std::string::npos ? spec.size() : colon);
  if (kind != "sctp" && kind != "tcp" && kind != "udp")
    throw std::invalid_argument("expected sctp:HOST:PORT, tcp:HOST:PORT or udp:HOST:PORT, got \"" +
                                spec + "\"");
  std::string host, error;
  uint16_t port = 0;
  if (!split_host_port(spec.substr(colon + 1), host, port, error))
    throw std::invalid_argument(kind + ": " + error);
  if (kind == "sctp") return std::make_unique<transport::SctpListener>(host, port, options, sink);
  if (kind == "tcp") return std::make_unique<transport::TcpListener>(host, port, options, sink);
  return std::make_unique<transport::UdpListener>(host, port, options, sink);
}

}  // namespace poolflow
