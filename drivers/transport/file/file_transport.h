// RFC 5655 IPFIX file: a plain sequence of IPFIX messages.
#pragma once

#include <cstdio>
#include <string>

#include "poolflow/transport.h"

namespace poolflow::transport {

class FileTransport final : public Transport {
 public:
  /// Creates (or truncates) `path`. Throws std::system_error on failure.
  FileTransport(std::string name, const std::string& path);
  ~FileTransport() override;

  SendResult send(std::span<const uint8_t> message, const MessageInfo& info) override;
  bool flush() override;
  const std::string& name() const override { return name_; }

 private:
  std::string name_;
  std::FILE* file_;
};

}  // namespace poolflow::transport
