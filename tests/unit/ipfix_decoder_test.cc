// The IPFIX decoder on messages written by hand (RFC 7011 §3): good ones, and
// every kind of bad input the collector must survive.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "poolflow/byte_order.h"
#include "ipfix/flow_templates.h"
#include "ipfix/message_reader.h"
#include "ipfix/message_writer.h"

namespace poolflow::ipfix {
namespace {

using Bytes = std::vector<uint8_t>;

// A message header for `body`, with the right length unless `length` says otherwise.
Bytes message(const Bytes& body, uint32_t domain = 1, uint32_t sequence = 0, int length = -1) {
  const size_t n = length < 0 ? body.size() + 16 : static_cast<size_t>(length);
  Bytes m(16 + body.size());
  store_be16(&m[0], kVersion);
  store_be16(&m[2], static_cast<uint16_t>(n));
  store_be32(&m[4], 0x5f5e1000);  // export time
  store_be32(&m[8], sequence);
  store_be32(&m[12], domain);
  std::copy(body.begin(), body.end(), m.begin() + 16);
  return m;
}

// Template 256: sourceIPv4Address (4), packetDeltaCount (8).
const Bytes kTemplateSet = {0x00, 0x02, 0x00, 0x10, 0x01, 0x00, 0x00, 0x02,
                            0x00, 0x08, 0x00, 0x04, 0x00, 0x02, 0x00, 0x08};
// Two records of template 256 and 2 octets of padding.
const Bytes kDataSet = {0x01, 0x00, 0x00, 0x1e,                          // set 256, length 30
                        10,   0,    0,    1,    0, 0, 0, 0, 0, 0, 0, 5,  // 10.0.0.1, 5 packets
                        10,   0,    0,    2,    0, 0, 0, 0, 0, 0, 0, 7,  // 10.0.0.2, 7 packets
                        0,    0};

struct Collect : RecordVisitor {
  std::vector<Bytes> records;
  void record(const MessageHeader&, const DecodedTemplate&, std::span<const uint8_t> r) override {
    records.emplace_back(r.begin(), r.end());
  }
};

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

uint32_t errors(const DecodeResult& r, DecodeError e) { return r.errors[static_cast<size_t>(e)]; }

class Decoder : public ::testing::Test {
 protected:
  MessageReader reader{DecoderLimits{}};
  TemplateStore store;
  Collect seen;
  DecodeResult decode(const Bytes& m) { return reader.decode(m, store, &seen); }
};

TEST_F(Decoder, TemplateThenDataInOneMessage) {
  const DecodeResult r = decode(message(concat({kTemplateSet, kDataSet}), 1, 40));
  EXPECT_FALSE(r.discarded);
  EXPECT_TRUE(r.records_complete);
  EXPECT_EQ(r.header.sequence, 40u);
  EXPECT_EQ(r.templates_added, 1u);
  EXPECT_EQ(r.data_records, 2u);  // the 2 octets of padding are no record
  ASSERT_EQ(seen.records.size(), 2u);
  EXPECT_EQ(seen.records[1], (Bytes{10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 7}));
  EXPECT_EQ(r.first_error, DecodeError::count_);
}

TEST_F(Decoder, TemplatesBelongToTheirDomain) {
  decode(message(kTemplateSet, 1));
  const DecodeResult r = decode(message(kDataSet, 2));
  EXPECT_EQ(errors(r, DecodeError::data_without_template), 1u);
  EXPECT_FALSE(r.records_complete);
  EXPECT_EQ(decode(message(kDataSet, 1)).data_records, 2u);
}

TEST_F(Decoder, OwnWriterRoundTrip) {
  MessageWriter w(1400);
  const Template* templates[] = {&ipv4_flow_template(), &ipv6_flow_template()};
  w.add_template_set(templates);
  FlowRecord record;
  record.key.ip_version = 6;
  record.packets = 3;
  const size_t length = ipv6_flow_template().record_length();
  encode_flow_record(record, w.add_record(kIPv6FlowTemplateId, length));
  const auto m = w.finish(1, 0, 9);
  const DecodeResult r = reader.decode(m, store, &seen);
  EXPECT_EQ(r.templates_added, 2u);
  EXPECT_EQ(r.data_records, 1u);
  ASSERT_NE(store.find(9, kIPv6FlowTemplateId), nullptr);
  EXPECT_EQ(store.find(9, kIPv6FlowTemplateId)->min_record_length, length);
}

TEST_F(Decoder, TruncatedHeaderIsDiscarded) {
  const Bytes m = message({});
  const DecodeResult r = decode(Bytes(m.begin(), m.begin() + 10));
  EXPECT_TRUE(r.discarded);
  EXPECT_EQ(r.first_error, DecodeError::message_too_short);
}

TEST_F(Decoder, WrongVersionIsDiscarded) {
  Bytes m = message(concat({kTemplateSet, kDataSet}));
  m[1] = 9;  // NetFlow v9
  const DecodeResult r = decode(m);
  EXPECT_TRUE(r.discarded);
  EXPECT_EQ(r.first_error, DecodeError::wrong_version);
  EXPECT_EQ(store.size(), 0u);
}

TEST_F(Decoder, LengthFieldDisagreeingWithTheMessage) {
  EXPECT_EQ(decode(message(kTemplateSet, 1, 0, 100)).first_error, DecodeError::length_mismatch);
  // Truncated in transit: the header says more than arrived.
  Bytes m = message(concat({kTemplateSet, kDataSet}));
  m.resize(m.size() - 5);
  EXPECT_EQ(decode(m).first_error, DecodeError::length_mismatch);
}

TEST_F(Decoder, SetLengthPastTheMessageDiscardsEverything) {
  Bytes sets = concat({kTemplateSet, kDataSet});
  sets[kTemplateSet.size() + 3] = 0x40;  // the data set claims 64 octets
  const DecodeResult r = decode(message(sets));
  EXPECT_TRUE(r.discarded);
  EXPECT_EQ(r.first_error, DecodeError::set_past_end);
  EXPECT_EQ(store.size(), 0u) << "nothing of a malformed message is used";
  EXPECT_TRUE(seen.records.empty());
}

TEST_F(Decoder, SetShorterThanItsHeader) {
  EXPECT_EQ(decode(message({0x01, 0x00, 0x00, 0x02})).first_error, DecodeError::set_too_short);
  EXPECT_EQ(decode(message({0x01, 0x00})).first_error, DecodeError::set_too_short);
}

TEST_F(Decoder, ReservedSetId) {
  EXPECT_EQ(decode(message({0x00, 0x05, 0x00, 0x04})).first_error, DecodeError::reserved_set_id);
}

TEST_F(Decoder, AbsurdTemplatesAreRefusedOneByOne) {
  const Bytes body = {
      0x00, 0x02, 0x00, 0x1c,                          // template set, 28 octets
      0x00, 0x10, 0x00, 0x01, 0x00, 0x08, 0x00, 0x04,  // id 16: below 256
      0x01, 0x01, 0x00, 0x01, 0x00, 0x08, 0x00, 0x00,  // id 257: a zero-length field
      0x01, 0x02, 0x00, 0x01, 0x00, 0x08, 0x00, 0x04,  // id 258: fine
  };
  const DecodeResult r = decode(message(body));
  EXPECT_EQ(errors(r, DecodeError::template_invalid), 2u);
  EXPECT_EQ(r.templates_added, 1u);
  EXPECT_NE(store.find(1, 258), nullptr);
  EXPECT_EQ(store.find(1, 257), nullptr);
}

TEST_F(Decoder, TemplateWithMoreFieldsThanAllowed) {
  MessageReader strict{DecoderLimits{.max_templates = 10, .max_fields = 1}};
  const DecodeResult r = strict.decode(message(kTemplateSet), store, nullptr);
  EXPECT_EQ(errors(r, DecodeError::template_invalid), 1u);
  EXPECT_EQ(store.size(), 0u);
}

TEST_F(Decoder, TemplateRunningPastItsSet) {
  // Field count 9 but room for one field only.
  const Bytes body = {0x00, 0x02, 0x00, 0x0c, 0x01, 0x00, 0x00, 0x09, 0x00, 0x08, 0x00, 0x04};
  const DecodeResult r = decode(message(body));
  EXPECT_EQ(r.first_error, DecodeError::template_truncated);
  EXPECT_EQ(store.size(), 0u);
}

TEST_F(Decoder, TemplateFloodStopsAtTheLimit) {
  MessageReader bounded{DecoderLimits{.max_templates = 100, .max_fields = 512}};
  uint32_t refused = 0;
  for (uint32_t id = 256; id < 256 + 1000; ++id) {
    const Bytes body = {
        0x00, 0x02, 0x00, 0x0c, static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), 0x00, 0x01,
        0x00, 0x08, 0x00, 0x04};
    refused += errors(bounded.decode(message(body), store, nullptr), DecodeError::template_limit);
  }
  EXPECT_EQ(store.size(), 100u);
  EXPECT_EQ(refused, 900u);
  // Redefining a template it already has is still allowed.
  EXPECT_EQ(bounded.decode(message(concat({kTemplateSet})), store, nullptr).templates_added, 1u);
}

TEST_F(Decoder, WithdrawalsOneAndAll) {
  decode(message(kTemplateSet));
  const Bytes withdraw_256 = {0x00, 0x02, 0x00, 0x08, 0x01, 0x00, 0x00, 0x00};
  EXPECT_EQ(decode(message(withdraw_256)).templates_withdrawn, 1u);
  EXPECT_EQ(errors(decode(message(withdraw_256)), DecodeError::withdrawal_unknown), 1u);
  decode(message(kTemplateSet));
  const Bytes withdraw_all = {0x00, 0x02, 0x00, 0x08, 0x00, 0x02, 0x00, 0x00};
  EXPECT_EQ(decode(message(withdraw_all)).templates_withdrawn, 1u);
  EXPECT_EQ(store.size(), 0u);
}

TEST_F(Decoder, OptionsTemplateAndVariableLengthRecords) {
  const Bytes body = {
      0x00, 0x03, 0x00, 0x12,              // options template set, 18 octets
      0x01, 0x10, 0x00, 0x02, 0x00, 0x01,  // template 272, 2 fields, 1 scope field
      0x00, 0x91, 0x00, 0x02,              // templateId (scope), 2 octets
      0x00, 0x52, 0xff, 0xff,              // interfaceName, variable length
      0x01, 0x10, 0x00, 0x11,              // data set 272, 17 octets
      0x01, 0x00, 0x03, 'e',  't',  'h',   // 256, "eth"
      0x01, 0x01, 0xff, 0x00, 0x01, 'x',   // 257, "x" with the 3-octet length form
      0x00,                                // 1 octet of padding
  };
  const DecodeResult r = decode(message(body));
  EXPECT_EQ(r.first_error, DecodeError::count_);
  EXPECT_EQ(r.templates_added, 1u);
  EXPECT_EQ(store.find(1, 272)->scope_fields, 1u);
  ASSERT_EQ(seen.records.size(), 2u);
  EXPECT_EQ(seen.records[1], (Bytes{0x01, 0x01, 0xff, 0x00, 0x01, 'x'}));
}

TEST_F(Decoder, VariableLengthRecordRunningPastItsSet) {
  const Bytes body = {
      0x00, 0x02, 0x00, 0x0c, 0x01, 0x00, 0x00, 0x01, 0x00, 0x52,
      0xff, 0xff, 0x01, 0x00, 0x00, 0x08, 0x09, 'a',  'b',  'c',  // says 9 octets, has 3
  };
  const DecodeResult r = decode(message(body));
  EXPECT_EQ(r.first_error, DecodeError::record_truncated);
  EXPECT_FALSE(r.records_complete);
  EXPECT_TRUE(seen.records.empty());
}

TEST_F(Decoder, OptionsTemplateWithBadScopeCount) {
  const Bytes body = {0x00, 0x03, 0x00, 0x0e, 0x01, 0x10, 0x00,
                      0x01, 0x00, 0x00, 0x00, 0x91, 0x00, 0x02};  // scope field count 0
  EXPECT_EQ(decode(message(body)).first_error, DecodeError::template_invalid);
}

TEST_F(Decoder, RandomBytesNeverCrash) {
  // Deterministic garbage behind a valid header: whatever it is, it is counted.
  uint32_t state = 12345;
  for (int round = 0; round < 2000; ++round) {
    Bytes body(static_cast<size_t>(state % 200));
    for (uint8_t& b : body) {
      state = state * 1103515245 + 12345;
      b = static_cast<uint8_t>(state >> 16);
    }
    if (body.size() >= 2) body[0] = 0, body[1] = static_cast<uint8_t>(2 + round % 2);
    const DecodeResult r = decode(message(body));
    EXPECT_LE(r.data_records, body.size());
  }
  EXPECT_LE(store.size(), DecoderLimits{}.max_templates);
}

}  // namespace
}  // namespace poolflow::ipfix
