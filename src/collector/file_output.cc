#include "collector/file_output.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <utility>

namespace poolflow::collector {

FileOutput::FileOutput(std::string name, std::string directory, uint64_t rotate_bytes,
                       uint32_t rotate_seconds)
    : name_(std::move(name)),
      directory_(std::move(directory)),
      rotate_bytes_(rotate_bytes),
      rotate_after_(rotate_seconds) {
  open_next([](const auto&) {});
}

FileOutput::~FileOutput() {
  if (file_ != nullptr) std::fclose(file_);
}

void FileOutput::open_next(const KnownTemplates& known_templates) {
  if (file_ != nullptr) std::fclose(file_);
  // Names sort in the order written: a UTC time stamp and a counter.
  const std::string path = fmt::format("{}/ipfix-{:%Y%m%d-%H%M%S}-{:06}.ipfix", directory_,
                                       fmt::gmtime(std::time(nullptr)), file_number_++);
  file_ = std::fopen(path.c_str(), "wb");
  if (file_ == nullptr) throw std::runtime_error(path + ": " + std::strerror(errno));
  file_bytes_ = 0;
  data_bytes_ = 0;
  opened_ = std::chrono::steady_clock::now();
  known_templates([this](std::span<const uint8_t> m) { write(m); });
  spdlog::debug("{}: writing {}", name_, path);
}

void FileOutput::write(std::span<const uint8_t> bytes) {
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    write_failed_ = true;
    spdlog::error("{}: write failed: {}", name_, std::strerror(errno));
  }
  file_bytes_ += bytes.size();
}

void FileOutput::message(std::span<const uint8_t> bytes, const KnownTemplates& known_templates) {
  if (data_bytes_ > 0 && file_bytes_ + bytes.size() > rotate_bytes_) open_next(known_templates);
  write(bytes);
  data_bytes_ += bytes.size();
}

bool FileOutput::flush() {
  if (std::fflush(file_) != 0) write_failed_ = true;
  return !std::exchange(write_failed_, false);
}

void FileOutput::tick(const KnownTemplates& known_templates) {
  if (std::fflush(file_) != 0) write_failed_ = true;  // flush() tells
  if (data_bytes_ > 0 && std::chrono::steady_clock::now() - opened_ >= rotate_after_)
    open_next(known_templates);
}

}  // namespace poolflow::collector
