#include "transport/file/file_transport.h"

#include <cerrno>
#include <system_error>

namespace poolflow::transport {

FileTransport::FileTransport(std::string name, const std::string& path)
    : name_(std::move(name)), file_(std::fopen(path.c_str(), "wb")) {
  if (file_ == nullptr) throw std::system_error(errno, std::generic_category(), path);
}

FileTransport::~FileTransport() { std::fclose(file_); }

SendResult FileTransport::send(std::span<const uint8_t> message, const MessageInfo&) {
  return std::fwrite(message.data(), 1, message.size(), file_) == message.size()
             ? SendResult::sent
             : SendResult::failed;
}

bool FileTransport::flush() { return std::fflush(file_) == 0; }

}  // namespace poolflow::transport
