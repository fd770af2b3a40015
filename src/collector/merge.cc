#include "collector/merge.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <unordered_set>

#include "collector/collector.h"
#include "ipfix/flow_templates.h"
#include "ipfix/message_reader.h"
#include "poolflow/byte_order.h"

namespace poolflow::collector {

namespace {

constexpr uint16_t kFirstReplayId = ipfix::kIPv4FlowTemplateId + ipfix::kReplayTemplateOffset;
constexpr uint16_t kReplayIds = 2 * 4;  // both reliability classes' flow templates

bool is_replay(uint16_t id) { return id >= kFirstReplayId && id < kFirstReplayId + kReplayIds; }

std::vector<std::string> files_of(const std::vector<std::string>& directories) {
  std::vector<std::string> files;
  for (const std::string& directory : directories) {
    std::vector<std::string> here;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(directory, error))
      if (entry.is_regular_file() && entry.path().extension() == ".ipfix")
        here.push_back(entry.path().string());
    if (error) throw std::runtime_error(directory + ": " + error.message());
    std::sort(here.begin(), here.end());  // collector file names sort in the order written
    files.insert(files.end(), here.begin(), here.end());
  }
  return files;
}

std::vector<uint8_t> read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot be read");
  return {std::istreambuf_iterator<char>(in), {}};
}

// Calls f(message) for each whole message of an RFC 5655 file; a cut-off or
// impossible tail is counted and ends the file.
template <typename F>
void for_each_message(const std::vector<uint8_t>& data, MergeStats& stats, F&& f) {
  size_t offset = 0;
  while (offset + ipfix::kMessageHeaderLength <= data.size()) {
    const uint16_t length = load_be16(&data[offset + 2]);
    if (length < ipfix::kMessageHeaderLength || offset + length > data.size()) break;
    f(std::span<const uint8_t>(&data[offset], length));
    offset += length;
  }
  if (offset != data.size()) ++stats.discarded_messages;
}

std::string key(uint32_t domain, uint16_t id, std::span<const uint8_t> record) {
  std::string k(6 + record.size(), '\0');
  store_be32(reinterpret_cast<uint8_t*>(k.data()), domain);
  store_be16(reinterpret_cast<uint8_t*>(k.data() + 4), id);
  std::copy(record.begin(), record.end(), k.begin() + 6);
  return k;
}

// Pass 1: every ordinary flow record, by domain, template and bytes.
class OrdinaryRecords final : public ipfix::RecordVisitor {
 public:
  explicit OrdinaryRecords(std::unordered_set<std::string>& keys) : keys_(keys) {}
  void record(const ipfix::MessageHeader& header, const ipfix::DecodedTemplate& tmpl,
              std::span<const uint8_t> record) override {
    if (tmpl.scope_fields == 0 && !is_replay(tmpl.id))
      keys_.insert(key(header.observation_domain, tmpl.id, record));
  }

 private:
  std::unordered_set<std::string>& keys_;
};

// Pass 2: the records of each message written, to the outputs that take them
// one by one (jsonl).
class ToOutputs final : public ipfix::RecordVisitor {
 public:
  ToOutputs(const std::vector<std::unique_ptr<Output>>& outputs, std::string source)
      : outputs_(outputs), source_(std::move(source)) {}
  void record(const ipfix::MessageHeader& header, const ipfix::DecodedTemplate& tmpl,
              std::span<const uint8_t> record) override {
    for (const auto& output : outputs_) output->record(source_, header, tmpl, record);
  }

 private:
  const std::vector<std::unique_ptr<Output>>& outputs_;
  std::string source_;
};

// `message` with its replayed records that are stored already left out, and
// the others under their ordinary template ids; empty when nothing is left.
std::vector<uint8_t> without_duplicates(std::span<const uint8_t> message,
                                        const ipfix::TemplateStore& store,
                                        std::unordered_set<std::string>& keys, MergeStats& stats) {
  std::vector<uint8_t> out(message.begin(), message.begin() + ipfix::kMessageHeaderLength);
  const uint32_t domain = load_be32(&message[12]);
  size_t sets = 0;
  for (size_t at = ipfix::kMessageHeaderLength; at + ipfix::kSetHeaderLength <= message.size();) {
    const uint16_t id = load_be16(&message[at]);
    const uint16_t length = load_be16(&message[at + 2]);
    if (length < ipfix::kSetHeaderLength || at + length > message.size()) break;
    const auto set = message.subspan(at, length);
    at += length;
    const ipfix::DecodedTemplate* tmpl = is_replay(id) ? store.find(domain, id) : nullptr;
    if (tmpl == nullptr || tmpl->variable || tmpl->min_record_length == 0) {
      out.insert(out.end(), set.begin(), set.end());
      ++sets;
      continue;
    }
    const uint16_t ordinary = static_cast<uint16_t>(id - ipfix::kReplayTemplateOffset);
    const size_t start = out.size();
    out.resize(start + ipfix::kSetHeaderLength);
    store_be16(&out[start], ordinary);
    const size_t size = tmpl->min_record_length;
    for (size_t r = ipfix::kSetHeaderLength; r + size <= set.size(); r += size) {
      const auto record = set.subspan(r, size);
      ++stats.replayed;
      if (!keys.insert(key(domain, ordinary, record)).second) {
        ++stats.duplicates;
        continue;
      }
      out.insert(out.end(), record.begin(), record.end());
    }
    if (out.size() == start + ipfix::kSetHeaderLength) {
      out.resize(start);  // every record of the set was stored already
      continue;
    }
    store_be16(&out[start + 2], static_cast<uint16_t>(out.size() - start));
    ++sets;
  }
  if (sets == 0) return {};
  store_be16(&out[2], static_cast<uint16_t>(out.size()));
  return out;
}

}  // namespace

MergeStats merge(const std::vector<std::string>& directories,
                 const std::vector<std::unique_ptr<Output>>& outputs) {
  MergeStats stats;
  const std::vector<std::string> files = files_of(directories);
  stats.files = files.size();
  const ipfix::MessageReader reader{ipfix::DecoderLimits{}};

  std::unordered_set<std::string> keys;
  for (const std::string& path : files) {
    const std::vector<uint8_t> data = read_whole(path);
    ipfix::TemplateStore store;  // a file starts with the templates it needs
    OrdinaryRecords ordinary(keys);
    MergeStats ignored;
    for_each_message(data, ignored,
                     [&](std::span<const uint8_t> m) { reader.decode(m, store, &ordinary); });
  }

  for (const std::string& path : files) {
    const std::vector<uint8_t> data = read_whole(path);
    ipfix::TemplateStore store;    // of the file read
    ipfix::TemplateStore written;  // of what was written from it
    ToOutputs to_outputs(outputs, "merge " + path);
    const KnownTemplates known = [&](const auto& write) {
      write_templates(
          written, [](uint32_t) { return 0u; }, write);
    };
    for_each_message(data, stats, [&](std::span<const uint8_t> m) {
      if (reader.decode(m, store, nullptr).discarded) {
        ++stats.discarded_messages;
        return;
      }
      const std::vector<uint8_t> out = without_duplicates(m, store, keys, stats);
      if (out.empty()) return;
      const ipfix::DecodeResult r = reader.decode(out, written, &to_outputs);
      stats.records += r.data_records - r.options_records;
      ++stats.messages;
      for (const auto& output : outputs) output->message(out, known);
    });
  }
  for (const auto& output : outputs) output->flush();
  return stats;
}

}  // namespace poolflow::collector
