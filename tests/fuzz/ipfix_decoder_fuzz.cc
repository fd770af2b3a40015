// libFuzzer target: the collector's decoding path on arbitrary bytes. The input
// is cut into messages by their length fields (so templates of one message
// serve the data of the next), each decoded with one session's template store,
// and every data record is printed as the JSON-lines output would print it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "collector/jsonl_output.h"
#include "poolflow/byte_order.h"
#include "ipfix/message_reader.h"

namespace {

struct PrintRecords : poolflow::ipfix::RecordVisitor {
  std::string line;
  void record(const poolflow::ipfix::MessageHeader&, const poolflow::ipfix::DecodedTemplate& t,
              std::span<const uint8_t> record) override {
    size_t offset = 0;
    for (const poolflow::ipfix::DecodedField& field : t.fields) {
      size_t prefix = 0, length = field.length;
      if (field.length == poolflow::ipfix::kVariableLength)
        poolflow::ipfix::variable_field_length(record.data() + offset,
                                               record.data() + record.size(), prefix, length);
      offset += prefix;
      if (offset + length > record.size()) __builtin_trap();  // the decoder promised it fits
      line.clear();
      poolflow::collector::append_json_value(line, field, record.subspan(offset, length));
      offset += length;
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  poolflow::ipfix::MessageReader reader{
      poolflow::ipfix::DecoderLimits{.max_templates = 64, .max_fields = 64}};
  poolflow::ipfix::TemplateStore store;
  PrintRecords visitor;
  while (size >= 4) {
    size_t length = poolflow::load_be16(data + 2);
    if (length < 4 || length > size) length = size;  // the rest, as one (bad) message
    reader.decode({data, length}, store, &visitor);
    if (store.size() > 64) __builtin_trap();
    data += length;
    size -= length;
  }
  return 0;
}
