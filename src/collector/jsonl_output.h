// JSON lines: one object per data record, information element names as keys
// (ipfix/element_registry), plus "exporter", "domain" (observation domain) and
// "template" (template id), names no information element has.
#pragma once

#include <cstdio>
#include <string>

#include "collector/output.h"

namespace poolflow::collector {

class JsonlOutput final : public Output {
 public:
  /// Creates (truncates) `path`. Throws std::runtime_error.
  JsonlOutput(std::string name, const std::string& path);
  ~JsonlOutput() override;

  void message(std::span<const uint8_t>, const KnownTemplates&) override {}
  void record(const std::string& exporter, const ipfix::MessageHeader& header,
              const ipfix::DecodedTemplate& tmpl, std::span<const uint8_t> record) override;
  void tick(const KnownTemplates&) override { std::fflush(file_); }
  bool flush() override { return std::fflush(file_) == 0 && !std::ferror(file_); }
  const std::string& name() const override { return name_; }

 private:
  std::string name_;
  std::FILE* file_;
  std::string line_;  ///< reused for every record
};

/// Appends `value` of a field of `type` as JSON (exposed for tests).
void append_json_value(std::string& out, const ipfix::DecodedField& field,
                       std::span<const uint8_t> value);

}  // namespace poolflow::collector
