// RFC 5655 IPFIX files in a directory: messages as received, a new file when
// the current one reaches rotate_bytes or is rotate_seconds old. Each file
// starts with the templates of every open session, so it decodes on its own.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "collector/output.h"

namespace poolflow::collector {

class FileOutput final : public Output {
 public:
  /// Checks that `directory` is writable and opens the first file. Throws std::runtime_error.
  FileOutput(std::string name, std::string directory, uint64_t rotate_bytes,
             uint32_t rotate_seconds);
  ~FileOutput() override;

  void message(std::span<const uint8_t> bytes, const KnownTemplates& known_templates) override;
  void record(const std::string&, const ipfix::MessageHeader&, const ipfix::DecodedTemplate&,
              std::span<const uint8_t>) override {}
  void tick(const KnownTemplates& known_templates) override;
  bool flush() override;
  const std::string& name() const override { return name_; }

 private:
  void open_next(const KnownTemplates& known_templates);
  void write(std::span<const uint8_t> bytes);

  std::string name_;
  std::string directory_;
  uint64_t rotate_bytes_;
  std::chrono::seconds rotate_after_;
  std::FILE* file_ = nullptr;
  uint64_t file_bytes_ = 0;
  uint64_t data_bytes_ = 0;  ///< messages written after the templates that open the file
  uint32_t file_number_ = 0;
  bool write_failed_ = false;  ///< since the last flush()
  std::chrono::steady_clock::time_point opened_;
};

}  // namespace poolflow::collector
