#include "collector/jsonl_output.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "ipfix/element_registry.h"

namespace poolflow::collector {

namespace {

void append_string(std::string& out, std::span<const uint8_t> bytes) {
  out += '"';
  for (const uint8_t c : bytes) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\u{:04x}", c);  // bytes, not UTF-8: keep the line valid JSON
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

void append_hex(std::string& out, std::span<const uint8_t> bytes) {
  out += "\"0x";
  for (const uint8_t c : bytes) out += fmt::format("{:02x}", c);
  out += '"';
}

}  // namespace

void append_json_value(std::string& out, const ipfix::DecodedField& field,
                       std::span<const uint8_t> value) {
  using ipfix::ElementType;
  const ipfix::ElementInfo* info =
      field.enterprise == 0 ? ipfix::find_element(field.element_id) : nullptr;
  const ElementType type = info != nullptr ? info->type : ElementType::octets;
  char text[INET6_ADDRSTRLEN];
  switch (type) {
    case ElementType::unsigned_int:
      if (!value.empty() && value.size() <= 8) {
        uint64_t v = 0;
        for (const uint8_t b : value) v = v << 8 | b;  // reduced-size encoding (RFC 7011 §6.2)
        out += std::to_string(v);
        return;
      }
      break;
    case ElementType::ipv4_address:
      if (value.size() == 4 && ::inet_ntop(AF_INET, value.data(), text, sizeof text)) {
        out += fmt::format("\"{}\"", text);
        return;
      }
      break;
    case ElementType::ipv6_address:
      if (value.size() == 16 && ::inet_ntop(AF_INET6, value.data(), text, sizeof text)) {
        out += fmt::format("\"{}\"", text);
        return;
      }
      break;
    case ElementType::mac_address:
      if (value.size() == 6) {
        out += fmt::format("\"{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}\"", value[0], value[1],
                           value[2], value[3], value[4], value[5]);
        return;
      }
      break;
    case ElementType::boolean:
      if (value.size() == 1 && (value[0] == 1 || value[0] == 2)) {
        out += value[0] == 1 ? "true" : "false";
        return;
      }
      break;
    case ElementType::string:
      append_string(out, value);
      return;
    case ElementType::octets:
      break;
  }
  append_hex(out, value);
}

JsonlOutput::JsonlOutput(std::string name, const std::string& path)
    : name_(std::move(name)), file_(std::fopen(path.c_str(), "w")) {
  if (file_ == nullptr) throw std::runtime_error(path + ": " + std::strerror(errno));
}

JsonlOutput::~JsonlOutput() { std::fclose(file_); }

void JsonlOutput::record(const std::string& exporter, const ipfix::MessageHeader& header,
                         const ipfix::DecodedTemplate& tmpl, std::span<const uint8_t> record) {
  line_.clear();
  line_ += "{\"exporter\":";
  append_string(line_, {reinterpret_cast<const uint8_t*>(exporter.data()), exporter.size()});
  line_ += fmt::format(",\"domain\":{},\"template\":{}", header.observation_domain, tmpl.id);
  size_t offset = 0;
  for (auto field_it = tmpl.fields.begin(); field_it != tmpl.fields.end(); ++field_it) {
    const ipfix::DecodedField& field = *field_it;
    size_t prefix = 0, length = field.length;
    if (field.length == ipfix::kVariableLength)
      ipfix::variable_field_length(record.data() + offset, record.data() + record.size(), prefix,
                                   length);  // checked by the decoder
    offset += prefix;
    line_ += ",\"";
    line_ += ipfix::element_key(field.element_id, field.enterprise);
    // An element repeated in a template (RFC 7011 §8), e.g. the first and last
    // observationTimeMilliseconds: "_2", "_3"... keep the keys unique.
    const auto occurrence =
        1 + std::count_if(tmpl.fields.begin(), field_it, [&](const auto& f) {
          return f.element_id == field.element_id && f.enterprise == field.enterprise;
        });
    if (occurrence > 1) line_ += fmt::format("_{}", occurrence);
    line_ += "\":";
    append_json_value(line_, field, record.subspan(offset, length));
    offset += length;
  }
  line_ += "}\n";
  std::fwrite(line_.data(), 1, line_.size(), file_);
}

}  // namespace poolflow::collector
