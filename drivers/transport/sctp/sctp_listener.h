// A collector's SCTP endpoint (usrsctp): one one-to-many socket accepting any
// number of associations, each a transport session, messages on any stream.
#pragma once

#include <string>

#include "poolflow/listener.h"

namespace poolflow::transport {

struct SctpListenerContext;

class SctpListener final : public Listener {
 public:
  /// Binds HOST:PORT and listens. Throws std::runtime_error.
  SctpListener(const std::string& host, uint16_t port, const ListenerOptions& options,
               MessageSink& sink);
  ~SctpListener() override;

  const std::string& description() const override { return description_; }
  bool send_control(uint64_t session, uint32_t ppid, std::span<const uint8_t> bytes) override;

 private:
  std::string description_;
  SctpListenerContext* context_;  ///< never freed: usrsctp may call back after close
};

}  // namespace poolflow::transport
