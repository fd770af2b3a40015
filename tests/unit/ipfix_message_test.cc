// IPFIX encoding checked against messages written out by hand from RFC 7011 §3.
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "ipfix/flow_templates.h"
#include "ipfix/message_writer.h"

namespace poolflow::ipfix {
namespace {

std::vector<uint8_t> bytes(std::span<const uint8_t> s) { return {s.begin(), s.end()}; }

TEST(MessageWriter, TemplateSetWithEnterpriseField) {
  static constexpr std::array<FieldSpec, 3> kFields = {{
      {8, 4},         // sourceIPv4Address
      {2, 8},         // packetDeltaCount
      {1, 8, 29305},  // reverse octetDeltaCount (RFC 5103)
  }};
  const Template t{256, kFields};
  MessageWriter w(1400);
  const Template* templates[] = {&t};
  ASSERT_TRUE(w.add_template_set(templates));
  const std::vector<uint8_t> expected = {
      0x00, 0x0a, 0x00, 0x28,  // version 10, length 40
      0x5f, 0x5e, 0x10, 0x00,  // export time
      0x00, 0x00, 0x00, 0x07,  // sequence number 7
      0x00, 0x00, 0x00, 0x2a,  // observation domain 42
      0x00, 0x02, 0x00, 0x18,  // template set, length 24
      0x01, 0x00, 0x00, 0x03,  // template 256, 3 fields
      0x00, 0x08, 0x00, 0x04,  // sourceIPv4Address, 4
      0x00, 0x02, 0x00, 0x08,  // packetDeltaCount, 8
      0x80, 0x01, 0x00, 0x08,  // enterprise bit | 1, 8
      0x00, 0x00, 0x72, 0x79,  // PEN 29305
  };
  EXPECT_EQ(bytes(w.finish(0x5f5e1000, 7, 42)), expected);
}

TEST(MessageWriter, IPv4FlowDataRecord) {
  FlowRecord r;
  r.key.ip_version = 4;
  r.key.protocol = 6;
  r.key.src_addr = {10, 0, 0, 1};
  r.key.dst_addr = {192, 168, 1, 2};
  r.key.src_port = 1234;
  r.key.dst_port = 80;
  r.key.vlan_id = 100;
  r.key.inner_vlan_id = 200;
  r.key.ingress_port = 1;
  r.mpls_top_label = {0x12, 0x34, 0x5b};
  r.tcp_flags = 0x1b;
  r.end_reason = FlowEndReason::end_of_flow;
  r.first_ms = 1700000000000;
  r.last_ms = 1700000000250;
  r.packets = 3;
  r.octets = 1500;

  MessageWriter w(1400);
  const Template& t = flow_template_for(r);
  ASSERT_EQ(t.id, 256);
  uint8_t* out = w.add_record(t.id, t.record_length());
  ASSERT_NE(out, nullptr);
  encode_flow_record(r, out);
  const std::vector<uint8_t> expected = {
      0x00, 0x0a, 0x00, 0x51,                          // version, length 81
      0x65, 0x53, 0xf1, 0x00,                          // export time 1700000000
      0x00, 0x00, 0x00, 0x00,                          // sequence 0
      0x00, 0x00, 0x00, 0x01,                          // domain 1
      0x01, 0x00, 0x00, 0x41,                          // data set 256, length 65
      0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,  // flowStartMilliseconds
      0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0xfa,  // flowEndMilliseconds
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0xdc,  // octetDeltaCount 1500
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,  // packetDeltaCount 3
      0x0a, 0x00, 0x00, 0x01,                          // sourceIPv4Address
      0xc0, 0xa8, 0x01, 0x02,                          // destinationIPv4Address
      0x00, 0x00, 0x00, 0x01,                          // ingressInterface
      0x12, 0x34, 0x5b,                                // mplsTopLabelStackSection
      0x04, 0xd2,                                      // sourceTransportPort 1234
      0x00, 0x50,                                      // destinationTransportPort 80
      0x00, 0x00,                                      // icmpTypeCodeIPv4
      0x00, 0x64,                                      // vlanId 100
      0x00, 0xc8,                                      // dot1qCustomerVlanId 200
      0x00, 0x1b,                                      // tcpControlBits
      0x06,                                            // protocolIdentifier
      0x03,                                            // flowEndReason: end of flow
  };
  EXPECT_EQ(bytes(w.finish(1700000000, 0, 1)), expected);
}

TEST(MessageWriter, IcmpV6RecordCarriesTypeCodeNotPorts) {
  FlowRecord r;
  r.key.ip_version = 6;
  r.key.protocol = 58;
  r.key.dst_port = 0x8000;  // echo request
  r.packets = 1;
  MessageWriter w(1400);
  const Template& t = flow_template_for(r);
  ASSERT_EQ(t.id, 257);
  ASSERT_EQ(t.record_length(), 85u);
  uint8_t* out = w.add_record(t.id, t.record_length());
  encode_flow_record(r, out);
  const auto m = w.finish(0, 0, 0);
  const uint8_t* rec = m.data() + 20;
  const std::array<uint8_t, 21> expected_tail = {0,    0,    0, 0,  // ingressInterface
                                                 0,    0,    0,     // MPLS label section
                                                 0,    0,    0, 0,  // ports
                                                 0x80, 0x00,        // icmpTypeCodeIPv6
                                                 0,    0,    0, 0,  // VLANs
                                                 0,    0,           // tcp flags
                                                 58,   0};          // protocol, end reason
  EXPECT_TRUE(std::equal(expected_tail.begin(), expected_tail.end(), rec + 64));
}

TEST(MessageWriter, BiflowRecordEndsWithReverseCounters) {
  FlowRecord r;
  r.key.ip_version = 4;
  r.biflow = true;
  r.reverse_octets = 0x0102030405;
  r.reverse_packets = 7;
  r.reverse_tcp_flags = 0x12;
  const Template& t = flow_template_for(r);
  ASSERT_EQ(t.id, kIPv4BiflowTemplateId);
  ASSERT_EQ(t.record_length(), 61u + 18u);
  EXPECT_EQ(t.fields.back().enterprise, kReversePen);
  std::vector<uint8_t> out(t.record_length());
  encode_flow_record(r, out.data());
  const std::vector<uint8_t> tail(out.begin() + 61, out.end());
  EXPECT_EQ(tail, (std::vector<uint8_t>{0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05,  // reverse octets
                                        0, 0, 0, 0, 0, 0, 0, 7,                 // reverse packets
                                        0x00, 0x12}));                          // reverse flags
}

TEST(MessageWriter, LargestTemplateMessageFitsTheSmallestMessageSize) {
  // Both reliability classes' flow templates on one SCTP stream, with the
  // options template and a reliability record for each: 1024 octets suffice.
  MessageWriter w(1024);
  std::vector<Template> both;
  for (uint16_t offset : {uint16_t{0}, kPartialTemplateOffset})
    for (const Template* t : flow_templates())
      both.push_back(Template{static_cast<uint16_t>(t->id + offset), t->fields});
  std::vector<const Template*> pointers;
  for (const Template& t : both) pointers.push_back(&t);
  ASSERT_TRUE(w.add_template_set(pointers));
  const Template* options[] = {&reliability_template()};
  ASSERT_TRUE(w.add_template_set(options));
  for (const Template& t : both) {
    uint8_t* out = w.add_record(kReliabilityTemplateId, kReliabilityRecordLength);
    ASSERT_NE(out, nullptr);
    encode_reliability_record(t.id, false, out);
  }
}

TEST(MessageWriter, SetsSwitchWithTheTemplateAndRespectTheLimit) {
  MessageWriter w(16 + 4 + 56 + 4 + 80);
  EXPECT_NE(w.add_record(256, 56), nullptr);
  EXPECT_NE(w.add_record(257, 80), nullptr);
  EXPECT_EQ(w.add_record(257, 80), nullptr) << "a message never exceeds its maximum";
  EXPECT_EQ(w.add_record(257, 1), nullptr) << "nor by a single octet";
  EXPECT_EQ(w.data_records(), 2u);
  const auto m = w.finish(0, 0, 0);
  ASSERT_EQ(m.size(), 160u);
  EXPECT_EQ(m[16] << 8 | m[17], 256);
  EXPECT_EQ(m[18] << 8 | m[19], 60);
  EXPECT_EQ(m[76] << 8 | m[77], 257);
  EXPECT_EQ(m[78] << 8 | m[79], 84);
  w.reset();
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(w.data_records(), 0u);
}

TEST(MessageWriter, ReliabilityOptionsTemplateAndRecord) {
  MessageWriter w(1400);
  const Template* options[] = {&reliability_template()};
  ASSERT_TRUE(w.add_template_set(options));
  encode_reliability_record(260, false, w.add_record(kReliabilityTemplateId, 3));
  const std::vector<uint8_t> expected = {
      0x00, 0x0a, 0x00, 0x29,  // version 10, length 41
      0x00, 0x00, 0x00, 0x01,  // export time
      0x00, 0x00, 0x00, 0x00,  // sequence number 0
      0x00, 0x00, 0x00, 0x01,  // observation domain 1
      0x00, 0x03, 0x00, 0x12,  // options template set, length 18
      0x01, 0x08, 0x00, 0x02,  // template 264, 2 fields
      0x00, 0x01,              // 1 scope field
      0x00, 0x91, 0x00, 0x02,  // templateId, 2 octets (scope)
      0x01, 0x14, 0x00, 0x01,  // dataRecordsReliability, 1 octet
      0x01, 0x08, 0x00, 0x07,  // data set 264, length 7
      0x01, 0x04, 0x02,        // template 260: false (RFC 7011 §6.1.5: 2)
  };
  EXPECT_EQ(bytes(w.finish(1, 0, 1)), expected);
}

// RFC 7011 §4.3: scope, the three counters, then the time the first and the
// time the last flow record was not sent, both observationTimeMilliseconds.
TEST(MessageWriter, ExportingReliabilityOptionsTemplateAndRecord) {
  MessageWriter w(1400);
  const Template* options[] = {&exporting_reliability_template()};
  ASSERT_TRUE(w.add_template_set(options));
  encode_exporting_reliability_record(
      4242, 25, 50, 3000, 0x0000018bcfe56800, 0x0000018bcfe57001,
      w.add_record(kExportingReliabilityTemplateId, kExportingReliabilityRecordLength));
  const std::vector<uint8_t> expected = {
      0x00, 0x0a, 0x00, 0x62,  // version 10, length 98
      0x00, 0x00, 0x00, 0x01,  // export time
      0x00, 0x00, 0x00, 0x00,  // sequence number 0
      0x00, 0x00, 0x00, 0x01,  // observation domain 1
      0x00, 0x03, 0x00, 0x22,  // options template set, length 34 (no padding)
      0x01, 0x09, 0x00, 0x06,  // template 265, 6 fields
      0x00, 0x01,              // 1 scope field
      0x00, 0x90, 0x00, 0x04,  // exportingProcessId, 4 octets (scope)
      0x00, 0xa6, 0x00, 0x08,  // notSentFlowTotalCount, 8
      0x00, 0xa7, 0x00, 0x08,  // notSentPacketTotalCount, 8
      0x00, 0xa8, 0x00, 0x08,  // notSentOctetTotalCount, 8
      0x01, 0x43, 0x00, 0x08,  // observationTimeMilliseconds, 8: first not sent
      0x01, 0x43, 0x00, 0x08,  // observationTimeMilliseconds, 8: last not sent
      0x01, 0x09, 0x00, 0x30,  // data set 265, length 48
      0x00, 0x00, 0x10, 0x92,  // exporting process 4242
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x19,  // 25 flow records
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x32,  // 50 packets
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b, 0xb8,  // 3000 octets
      0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,  // first not sent (ms since 1970)
      0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x70, 0x01,  // last not sent
  };
  EXPECT_EQ(bytes(w.finish(1, 0, 1)), expected);
}

// RFC 7011 §4.2: scope, the two counters, then the time the first and the time
// the last packet was ignored, both observationTimeMilliseconds (§8: in order).
TEST(MessageWriter, MeteringReliabilityOptionsTemplateAndRecord) {
  MessageWriter w(1400);
  const Template* options[] = {&metering_reliability_template()};
  ASSERT_TRUE(w.add_template_set(options));
  encode_metering_reliability_record(
      7, 1000, 51400, 0x0000018bcfe56800, 0x0000018bcfe568ff,
      w.add_record(kMeteringReliabilityTemplateId, kMeteringReliabilityRecordLength));
  const std::vector<uint8_t> expected = {
      0x00, 0x0a, 0x00, 0x56,  // version 10, length 86
      0x00, 0x00, 0x00, 0x01,  // export time
      0x00, 0x00, 0x00, 0x00,  // sequence number 0
      0x00, 0x00, 0x00, 0x07,  // observation domain 7
      0x00, 0x03, 0x00, 0x1e,  // options template set, length 30 (no padding)
      0x01, 0x0b, 0x00, 0x05,  // template 267, 5 fields
      0x00, 0x01,              // 1 scope field
      0x00, 0x95, 0x00, 0x04,  // observationDomainId, 4 octets (scope)
      0x00, 0xa4, 0x00, 0x08,  // ignoredPacketTotalCount, 8
      0x00, 0xa5, 0x00, 0x08,  // ignoredOctetTotalCount, 8
      0x01, 0x43, 0x00, 0x08,  // observationTimeMilliseconds, 8: first ignored
      0x01, 0x43, 0x00, 0x08,  // observationTimeMilliseconds, 8: last ignored
      0x01, 0x0b, 0x00, 0x28,  // data set 267, length 40
      0x00, 0x00, 0x00, 0x07,  // domain 7
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe8,  // 1000 packets
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc8, 0xc8,  // 51400 octets
      0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,  // first ignored (ms since 1970)
      0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0xff,  // last ignored
  };
  EXPECT_EQ(bytes(w.finish(1, 0, 7)), expected);
}

}  // namespace
}  // namespace poolflow::ipfix
