// One case per protocol path of the parser and per reason a packet is ignored.
#include <gtest/gtest.h>

#include <initializer_list>
#include <vector>

#include "meter/packet_parser.h"

namespace poolflow::meter {
namespace {

using Bytes = std::vector<uint8_t>;

// push_back rather than insert: GCC 12 warns falsely (-Warray-bounds) on the latter.
void append(Bytes& b, std::initializer_list<uint8_t> bytes) {
  for (uint8_t v : bytes) b.push_back(v);
}
void append(Bytes& b, const Bytes& bytes) {
  for (uint8_t v : bytes) b.push_back(v);
}
void pad(Bytes& b, size_t size, uint8_t value) {
  while (b.size() < size) b.push_back(value);
}
void append16(Bytes& b, uint16_t v) { append(b, {uint8_t(v >> 8), uint8_t(v)}); }

Bytes ethernet(uint16_t ether_type, std::initializer_list<uint16_t> vlan_tags = {}) {
  Bytes b(12, 0xaa);
  for (uint16_t tci : vlan_tags) {
    append16(b, 0x8100);
    append16(b, tci);
  }
  append16(b, ether_type);
  return b;
}

// IPv4 header (no options unless ihl > 5) followed by `l4`.
Bytes ipv4(uint8_t protocol, const Bytes& l4, uint8_t ihl = 5, uint16_t fragment = 0) {
  Bytes b;
  const uint16_t total = static_cast<uint16_t>(ihl * 4 + l4.size());
  append(b, {uint8_t(0x40 | ihl), 0});
  append16(b, total);
  append(b, {0, 1});
  append16(b, fragment);
  append(b, {64, protocol, 0, 0, 10, 0, 0, 1, 192, 168, 1, 2});
  pad(b, ihl * 4, 0x01);  // options: NOPs
  append(b, l4);
  return b;
}

Bytes ipv6(uint8_t next_header, const Bytes& payload) {
  Bytes b = {0x60, 0, 0, 0};
  append16(b, static_cast<uint16_t>(payload.size()));
  append(b, {next_header, 64});
  for (int i = 0; i < 16; ++i) b.push_back(i == 0 ? 0xfd : uint8_t(i));
  for (int i = 0; i < 16; ++i) b.push_back(i == 0 ? 0xfd : uint8_t(0x10 + i));
  append(b, payload);
  return b;
}

Bytes tcp(uint16_t sport, uint16_t dport, uint8_t flags, uint8_t offset_words = 5) {
  Bytes b;
  append16(b, sport);
  append16(b, dport);
  pad(b, 12, 0);
  append(b, {uint8_t(offset_words << 4), flags, 0xff, 0xff, 0, 0, 0, 0});
  return b;
}

Bytes udp(uint16_t sport, uint16_t dport) {
  Bytes b;
  append16(b, sport);
  append16(b, dport);
  append(b, {0, 8, 0, 0});
  return b;
}

Bytes frame(Bytes l2, const Bytes& l3) {
  append(l2, l3);
  return l2;
}

struct Result {
  bool ok;
  ParsedPacket packet;
  IgnoreReason why;
};

Result parse(const Bytes& f, uint32_t frame_bytes = 0) {
  Result r{};
  r.ok = parse_packet(f.data(), static_cast<uint32_t>(f.size()),
                      frame_bytes ? frame_bytes : static_cast<uint32_t>(f.size()), r.packet, r.why);
  return r;
}

TEST(PacketParser, IPv4Tcp) {
  const Result r = parse(frame(ethernet(0x0800), ipv4(6, tcp(1234, 80, 0x02))));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.packet.key.ip_version, 4);
  EXPECT_EQ(r.packet.key.protocol, 6);
  EXPECT_EQ(r.packet.key.src_port, 1234);
  EXPECT_EQ(r.packet.key.dst_port, 80);
  EXPECT_EQ(r.packet.tcp_flags, 0x02);
  EXPECT_EQ(r.packet.ip_octets, 40u);
  EXPECT_EQ(r.packet.key.src_addr[0], 10);
  EXPECT_EQ(r.packet.key.dst_addr[3], 2);
  EXPECT_EQ(r.packet.key.src_addr[4], 0) << "IPv4 leaves the rest of the address zero";
  EXPECT_EQ(r.packet.key.vlan_id, 0);
}

TEST(PacketParser, IPv4UdpWithEthernetPaddingCountsIpLength) {
  Bytes f = frame(ethernet(0x0800), ipv4(17, udp(5353, 53)));
  pad(f, 60, 0);  // minimum Ethernet frame: padding is not IP octets
  const Result r = parse(f);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.packet.key.protocol, 17);
  EXPECT_EQ(r.packet.key.src_port, 5353);
  EXPECT_EQ(r.packet.key.dst_port, 53);
  EXPECT_EQ(r.packet.ip_octets, 28u);
}

TEST(PacketParser, IPv4WithOptions) {
  const Result r = parse(frame(ethernet(0x0800), ipv4(17, udp(1, 2), 7)));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.packet.key.src_port, 1);
  EXPECT_EQ(r.packet.ip_octets, 28u + 8u);
}

TEST(PacketParser, IcmpTypeCode) {
  const Result r = parse(frame(ethernet(0x0800), ipv4(1, Bytes{8, 0, 0xf7, 0xff})));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.packet.key.protocol, 1);
  EXPECT_EQ(r.packet.key.src_port, 0);
  EXPECT_EQ(r.packet.key.dst_port, 0x0800);
}

TEST(PacketParser, Sctp) {
  Bytes sctp;
  append16(sctp, 4739);
  append16(sctp, 9899);
  pad(sctp, 12, 0);
  const Result r = parse(frame(ethernet(0x0800), ipv4(132, sctp)));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.packet.key.src_port, 4739);
  EXPECT_EQ(r.packet.key.dst_port, 9899);
}

TEST(PacketParser, OtherProtocolAccountedByNumber) {
  const Result r = parse(frame(ethernet(0x0800), ipv4(47, Bytes(12, 0))));  // GRE
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.packet.key.protocol, 47);
  EXPECT_EQ(r.packet.key.src_port, 0);
  EXPECT_EQ(r.packet.key.dst_port, 0);
}

TEST(PacketParser, IPv4LaterFragmentHasNoPorts) {
  const Result r = parse(frame(ethernet(0x0800), ipv4(6, Bytes(16, 0x55), 5, 0x00b9)));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.packet.key.protocol, 6);
  EXPECT_EQ(r.packet.key.src_port, 0);
  EXPECT_EQ(r.packet.ip_octets, 36u);
}

TEST(PacketParser, IPv6Tcp) {
  const Result r = parse(frame(ethernet(0x86dd), ipv6(6, tcp(40000, 443, 0x11))));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.packet.key.ip_version, 6);
  EXPECT_EQ(r.packet.key.protocol, 6);
  EXPECT_EQ(r.packet.key.src_port, 40000);
  EXPECT_EQ(r.packet.key.dst_port, 443);
  EXPECT_EQ(r.packet.tcp_flags, 0x11);
  EXPECT_EQ(r.packet.ip_octets, 60u);
  EXPECT_EQ(r.packet.key.src_addr[0], 0xfd);
  EXPECT_EQ(r.packet.key.dst_addr[15], 0x1f);
}

TEST(PacketParser, IPv6Udp) {
  const Result r = parse(frame(ethernet(0x86dd), ipv6(17, udp(546, 547))));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.packet.key.protocol, 17);
  EXPECT_EQ(r.packet.key.dst_port, 547);
}

TEST(PacketParser, IcmpV6TypeCode) {
  const Result r = parse(frame(ethernet(0x86dd), ipv6(58, Bytes{128, 0, 0, 0})));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.packet.key.protocol, 58);
  EXPECT_EQ(r.packet.key.dst_port, 0x8000);
}

TEST(PacketParser, IPv6ExtensionHeadersWalkedToTransport) {
  Bytes payload = {60, 0, 1, 4, 0, 0, 0, 0};  // hop-by-hop, next: destination options
  append(payload,
         {17, 1, 1, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0});  // dest opts (16 B), next: UDP
  const Bytes u = udp(7, 9);
  append(payload, u);
  const Result r = parse(frame(ethernet(0x86dd), ipv6(0, payload)));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.packet.key.protocol, 17);
  EXPECT_EQ(r.packet.key.src_port, 7);
  EXPECT_EQ(r.packet.key.dst_port, 9);
}

TEST(PacketParser, IPv6LaterFragmentHasNoPorts) {
  Bytes payload = {6, 0, 0x05, 0x91, 0, 0, 0, 1};  // fragment header, offset 178, next: TCP
  pad(payload, 40, 0x55);
  const Result r = parse(frame(ethernet(0x86dd), ipv6(44, payload)));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.packet.key.protocol, 6);
  EXPECT_EQ(r.packet.key.src_port, 0);
}

TEST(PacketParser, Vlan) {
  const Result r = parse(frame(ethernet(0x0800, {0x2064}), ipv4(17, udp(1, 2))));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.packet.key.vlan_id, 100) << "priority bits are not part of the VLAN id";
}

TEST(PacketParser, QinQKeepsOuterVlan) {
  Bytes l2(12, 0xaa);
  append(l2, {0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x14, 0x08, 0x00});
  const Result r = parse(frame(l2, ipv4(17, udp(1, 2))));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.packet.key.vlan_id, 10);
  EXPECT_EQ(r.packet.key.dst_port, 2);
}

TEST(PacketParser, QinQKeepsInnerVlan) {
  Bytes l2(12, 0xaa);
  append(l2, {0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x30, 0x14, 0x08, 0x00});
  const Result r = parse(frame(l2, ipv4(17, udp(1, 2))));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.packet.key.inner_vlan_id, 20);
}

TEST(PacketParser, MplsStackToIPv4KeepsTopLabel) {
  Bytes l2(12, 0xaa);
  // Two labels: 0x12345 (TC 5) then 16 with bottom of stack.
  append(l2, {0x88, 0x47, 0x12, 0x34, 0x5a, 0x40, 0x00, 0x01, 0x01, 0x40});
  const Result r = parse(frame(l2, ipv4(6, tcp(3, 4, 0x10))));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.packet.key.ip_version, 4);
  EXPECT_EQ(r.packet.key.dst_port, 4);
  EXPECT_EQ(r.packet.mpls_top_label, (MplsLabelSection{0x12, 0x34, 0x5a}));
}

TEST(PacketParser, MplsToIPv6) {
  Bytes l2(12, 0xaa);
  append(l2, {0x88, 0x47, 0x00, 0x01, 0x01, 0x40});
  const Result r = parse(frame(l2, ipv6(17, udp(5, 6))));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.packet.key.ip_version, 6);
  EXPECT_EQ(r.packet.key.src_port, 5);
}

// Malformed packets: one per reason.

TEST(PacketParser, MplsPseudowireIsNotIp) {
  Bytes f(12, 0xaa);
  append(f, {0x88, 0x47, 0x00, 0x01, 0x01, 0x40, 0x00, 0x00, 0x00, 0x00});  // control word
  pad(f, 60, 0);
  const Result r = parse(f);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.why, IgnoreReason::non_ip);
}

TEST(PacketParser, MplsStackCutShort) {
  Bytes f(12, 0xaa);
  append(f, {0x88, 0x47, 0x00, 0x01, 0x00, 0x40, 0x00, 0x02});
  const Result r = parse(f);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.why, IgnoreReason::short_ethernet);
}

TEST(PacketParser, ShortEthernet) {
  const Result r = parse(Bytes(13, 0));
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.why, IgnoreReason::short_ethernet);
}

TEST(PacketParser, TruncatedVlanTag) {
  Bytes f(12, 0xaa);
  append(f, {0x81, 0x00, 0x00});
  const Result r = parse(f);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.why, IgnoreReason::short_ethernet);
}

TEST(PacketParser, NonIp) {
  Bytes f = ethernet(0x0806);  // ARP
  pad(f, 42, 0);
  const Result r = parse(f);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.why, IgnoreReason::non_ip);
}

TEST(PacketParser, IPv4IhlBelowFive) {
  Bytes f = frame(ethernet(0x0800), ipv4(17, udp(1, 2)));
  f[14] = 0x44;
  const Result r = parse(f);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.why, IgnoreReason::ipv4_bad_header);
}

TEST(PacketParser, IPv4WrongVersion) {
  Bytes f = frame(ethernet(0x0800), ipv4(17, udp(1, 2)));
  f[14] = 0x65;
  const Result r = parse(f);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.why, IgnoreReason::ipv4_bad_header);
}

TEST(PacketParser, IPv4TotalLengthPastFrame) {
  Bytes f = frame(ethernet(0x0800), ipv4(17, udp(1, 2)));
  f[16] = 0x05;  // total length 0x05xx
  const Result r = parse(f);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.why, IgnoreReason::ipv4_bad_length);
}

TEST(PacketParser, IPv4TotalLengthShorterThanHeader) {
  Bytes f = frame(ethernet(0x0800), ipv4(17, udp(1, 2)));
  f[16] = 0;
  f[17] = 12;
  const Result r = parse(f);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.why, IgnoreReason::ipv4_bad_length);
}

TEST(PacketParser, IPv4HeaderCutShort) {
  Bytes f = frame(ethernet(0x0800), ipv4(17, udp(1, 2)));
  f.resize(14 + 12);
  const Result r = parse(f);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.why, IgnoreReason::ipv4_bad_length);
}

TEST(PacketParser, IPv6PayloadLengthPastFrame) {
  Bytes f = frame(ethernet(0x86dd), ipv6(17, udp(1, 2)));
  f[14 + 4] = 0x02;  // payload length 0x02xx
  const Result r = parse(f);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.why, IgnoreReason::ipv6_bad_length);
}

TEST(PacketParser, IPv6WrongVersion) {
  Bytes f = frame(ethernet(0x86dd), ipv6(17, udp(1, 2)));
  f[14] = 0x40;
  const Result r = parse(f);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.why, IgnoreReason::ipv6_bad_header);
}

TEST(PacketParser, IPv6ExtensionHeaderPastPayload) {
  const Result r = parse(frame(ethernet(0x86dd), ipv6(43, Bytes{17, 4, 0, 0, 0, 0, 0, 0})));
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.why, IgnoreReason::ipv6_bad_length);
}

TEST(PacketParser, TcpDataOffsetBelowFive) {
  const Result r = parse(frame(ethernet(0x0800), ipv4(6, tcp(1, 2, 0x10, 4))));
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.why, IgnoreReason::tcp_bad_offset);
}

TEST(PacketParser, TcpHeaderCutByIpLength) {
  Bytes t = tcp(1, 2, 0x10);
  t.resize(12);
  const Result r = parse(frame(ethernet(0x0800), ipv4(6, t)));
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.why, IgnoreReason::l4_truncated);
}

TEST(PacketParser, UdpHeaderCutByIpLength) {
  const Result r = parse(frame(ethernet(0x86dd), ipv6(17, Bytes{0, 1, 0})));
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.why, IgnoreReason::l4_truncated);
}

TEST(PacketParser, EveryReasonHasAName) {
  for (auto name : kIgnoreReasonNames) EXPECT_FALSE(name.empty());
}

}  // namespace
}  // namespace poolflow::meter
