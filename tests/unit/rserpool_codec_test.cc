// ASAP/ENRP codec: byte vectors laid out from RFC 5352-5354's formats (each one
// also decoded cleanly by tshark's asap/enrp dissectors when it was written),
// round trips of every message type, and malformed input.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <random>

#include "rserpool/codec.h"
#include "rserpool/storage_cookie.h"

using namespace poolflow::rserpool;

namespace {

std::vector<uint8_t> hex(const std::string& text) {
  std::vector<uint8_t> out;
  std::string digits;
  for (const char c : text)
    if (std::isxdigit(static_cast<unsigned char>(c))) digits += c;
  for (size_t i = 0; i + 1 < digits.size(); i += 2)
    out.push_back(uint8_t(std::stoul(digits.substr(i, 2), nullptr, 16)));
  return out;
}

Transport sctp_transport(const char* address, uint16_t port, uint16_t encaps = 0) {
  Transport t;
  t.kind = TransportKind::sctp;
  t.port = port;
  t.addresses.push_back(*Address::parse(address));
  t.udp_encapsulation_port = encaps;
  return t;
}

PoolElement element(uint32_t id) {
  PoolElement e;
  e.id = id;
  e.home_server = 0x11111111;
  e.registration_life_ms = 30000;
  e.user_transport = sctp_transport("10.0.0.1", 4739, 9899);
  e.policy.type = uint32_t(PolicyType::least_used);
  e.policy.load = 0x40000000;
  return e;
}

Message roundtrip(const Message& m) {
  const std::vector<uint8_t> bytes = encode(m);
  EXPECT_EQ(bytes.size() % 4, 0u);
  const DecodeResult r = decode(m.protocol, bytes);
  EXPECT_TRUE(r.ok()) << decode_error_name(r.error) << ": " << r.detail;
  return r.message;
}

}  // namespace

// RFC 5352 §2.2.1 with RFC 5354 §3.9, §3.3, §3.6 and RFC 5356 §4.2.2: pool handle
// "Echo5" (5 octets, 3 of padding), PE 0xabcdef01, life 30 s, SCTP port 7 with
// data only on 10.0.0.1, least used with degradation.
TEST(RserpoolCodec, RegistrationVector) {
  const auto wire =
      hex("01000040 00090009 4563686f 35000000"
          "000a0030 abcdef01 00000000 00007530"
          "00040010 00070000 00010008 0a000001"
          "00080010 40000002 80000000 01000000");
  const DecodeResult r = decode(Protocol::asap, wire);
  ASSERT_TRUE(r.ok()) << r.detail;
  const Message& m = r.message;
  EXPECT_TRUE(m.is(AsapType::registration));
  EXPECT_EQ(*m.pool_handle, "Echo5");
  ASSERT_EQ(m.elements.size(), 1u);
  const PoolElement& e = m.elements[0];
  EXPECT_EQ(e.id, 0xabcdef01u);
  EXPECT_EQ(e.registration_life_ms, 30000);
  EXPECT_EQ(e.user_transport.kind, TransportKind::sctp);
  EXPECT_EQ(e.user_transport.port, 7);
  EXPECT_EQ(e.user_transport.transport_use, kTransportDataOnly);
  EXPECT_EQ(e.user_transport.addresses.at(0).text(), "10.0.0.1");
  EXPECT_EQ(e.policy.type, uint32_t(PolicyType::least_used_degradation));
  EXPECT_EQ(e.policy.load, 0x80000000u);
  EXPECT_EQ(e.policy.load_dpf, 0x01000000u);
  EXPECT_EQ(encode(m), wire);
}

// §2.2.3 with R set, an operation error of cause 5 carrying the policy (round robin).
TEST(RserpoolCodec, RegistrationResponseRejectVector) {
  const auto wire =
      hex("03010028 00090009 4563686f 35000000 000e0008 abcdef01"
          "000c0010 0005000c 00080008 00000001");
  const DecodeResult r = decode(Protocol::asap, wire);
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_TRUE(r.message.is(AsapType::registration_response));
  EXPECT_EQ(r.message.flags, kFlagReject);
  EXPECT_EQ(*r.message.pe_id, 0xabcdef01u);
  ASSERT_EQ(r.message.errors.size(), 1u);
  EXPECT_EQ(r.message.errors[0].code, uint16_t(Cause::inconsistent_policy));
  EXPECT_EQ(r.message.errors[0].info, hex("00080008 00000001"));
  EXPECT_EQ(encode(r.message), wire);
}

// §2.2.7: server identifier first, then handle and PE identifier; H set.
TEST(RserpoolCodec, KeepAliveVector) {
  const auto wire = hex("0701001c 12345678 0009000c 4563686f 506f6f6c 000e0008 abcdef01");
  const DecodeResult r = decode(Protocol::asap, wire);
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_TRUE(r.message.is(AsapType::endpoint_keep_alive));
  EXPECT_EQ(r.message.flags, kFlagHome);
  EXPECT_EQ(r.message.sender, 0x12345678u);
  EXPECT_EQ(*r.message.pool_handle, "EchoPool");
  EXPECT_EQ(encode(r.message), wire);
}

TEST(RserpoolCodec, ServerAnnounceAndHandleResolutionVectors) {
  const auto announce = hex("0a000008 12345678");
  DecodeResult r = decode(Protocol::asap, announce);
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.message.sender, 0x12345678u);
  EXPECT_TRUE(r.message.transports.empty());
  EXPECT_EQ(encode(r.message), announce);

  const auto resolution = hex("05000018 0009000c 4563686f 506f6f6c 803f0008 00000003");
  r = decode(Protocol::asap, resolution);
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(*r.message.resolution_items, 3u);
  EXPECT_EQ(encode(r.message), resolution);
}

// RFC 5353 §2.1 (PRESENCE, R set) with a 16-bit checksum and server information.
TEST(RserpoolCodec, PresenceVector) {
  const auto wire =
      hex("0101002c 11111111 00000000 000f0006 beef0000 000b0018 11111111 00040010 26ad0000 "
          "00010008 0a000001");
  const DecodeResult r = decode(Protocol::enrp, wire);
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_TRUE(r.message.is(EnrpType::presence));
  EXPECT_EQ(*r.message.checksum, 0xbeef);
  ASSERT_EQ(r.message.servers.size(), 1u);
  EXPECT_EQ(r.message.servers[0].transport.port, 9901);
  EXPECT_EQ(encode(r.message), wire);
}

TEST(RserpoolCodec, UdpEncapsulationPortExtensionIsSkippedByItsActionBits) {
  const Message m = Message::registration("ipfix-collectors", element(7));
  const std::vector<uint8_t> bytes = encode(m);
  EXPECT_EQ(unknown_action(uint16_t(ParamType::udp_encapsulation_port)), UnknownAction::skip);
  EXPECT_EQ(roundtrip(m).elements.at(0).user_transport.udp_encapsulation_port, 9899);
  // What an implementation that does not know it sees: the same parameter with
  // another type of the same action bits is skipped silently.
  std::vector<uint8_t> other = bytes;
  for (size_t i = 0; i + 4 <= other.size(); i += 4)
    if (other[i] == 0x80 && other[i + 1] == 0x01) other[i + 1] = 0x77;
  const DecodeResult r = decode(Protocol::asap, other);
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.message.elements.at(0).user_transport.udp_encapsulation_port, 0);
  EXPECT_TRUE(r.to_report.empty());
}

TEST(RserpoolCodec, EveryAsapMessageRoundTrips) {
  for (uint8_t type = 1; type <= 0x0e; ++type) {
    Message m = Message::asap(AsapType(type));
    m.pool_handle = "ipfix-collectors";
    m.pe_id = 0x01020304;
    m.sender = 0x0a0b0c0d;
    switch (AsapType(type)) {
      case AsapType::registration:
        m.elements.push_back(element(1));
        break;
      case AsapType::handle_resolution:
        m.resolution_items = 5;
        break;
      case AsapType::handle_resolution_response:
      case AsapType::business_card:
        m.overall_policy = Policy{};
        m.elements = {element(1), element(2)};
        m.elements[1].user_transport.kind = TransportKind::udp;
        m.elements[1].user_transport.udp_encapsulation_port = 0;
        m.elements[1].asap_transport = sctp_transport("::1", 3863);
        break;
      case AsapType::server_announce:
        m.transports.push_back(sctp_transport("192.0.2.1", 3863, 9900));
        break;
      case AsapType::cookie:
      case AsapType::cookie_echo:
        m.cookie = std::vector<uint8_t>{1, 2, 3, 4, 5};
        break;
      case AsapType::error:
        m.errors = {make_cause(Cause::unknown_pool_handle),
                    make_cause(Cause::invalid_values, hex("000e0008 00000001"))};
        break;
      default:
        break;
    }
    // Fields the type does not carry are not encoded, so compare with what it carries.
    const Message back = roundtrip(m);
    EXPECT_EQ(encode(back), encode(m)) << message_name(Protocol::asap, type);
    EXPECT_EQ(back.type, type);
  }
}

TEST(RserpoolCodec, EveryEnrpMessageRoundTrips) {
  for (uint8_t type = 1; type <= 0x0a; ++type) {
    Message m = Message::enrp(EnrpType(type));
    m.sender = 1;
    m.receiver = 2;
    m.target = 3;
    switch (EnrpType(type)) {
      case EnrpType::presence:
        m.checksum = 0x1234;
        m.servers.push_back({1, sctp_transport("192.0.2.1", 9901)});
        break;
      case EnrpType::handle_table_response:
        m.flags = kFlagMore;
        m.pools = {{"a", {element(1), element(2)}}, {"b", {element(3)}}};
        break;
      case EnrpType::handle_update:
        m.update_action = 1;
        m.pool_handle = "a";
        m.elements.push_back(element(9));
        m.elements[0].asap_transport = sctp_transport("192.0.2.9", 3863);
        break;
      case EnrpType::list_response:
        m.servers = {{1, sctp_transport("192.0.2.1", 9901)},
                     {2, sctp_transport("2001:db8::2", 9901)}};
        break;
      case EnrpType::error:
        m.errors = {make_cause(Cause::unspecified)};
        break;
      default:
        break;
    }
    const Message back = roundtrip(m);
    EXPECT_EQ(encode(back), encode(m)) << message_name(Protocol::enrp, type);
    if (EnrpType(type) == EnrpType::handle_table_response) {
      EXPECT_EQ(back.pools, m.pools);
    }
    if (type >= 7 && type <= 9) {
      EXPECT_EQ(back.target, 3u);
    }
  }
}

TEST(RserpoolCodec, MalformedInputGivesTheRightError) {
  const auto ok = hex("0701001c 12345678 0009000c 4563686f 506f6f6c 000e0008 abcdef01");
  auto expect = [](const std::vector<uint8_t>& bytes, DecodeError error,
                   Protocol p = Protocol::asap) {
    const DecodeResult r = decode(p, bytes);
    EXPECT_EQ(r.error, error) << decode_error_name(r.error) << ": " << r.detail;
  };
  expect({}, DecodeError::too_short);
  expect({0x07, 0x00}, DecodeError::too_short);
  auto bad = ok;
  bad[3] = 0x40;  // header length past the buffer
  expect(bad, DecodeError::length_mismatch);
  bad = ok;
  bad[11] = 0x03;  // handle parameter length 3 (< 4)
  expect(bad, DecodeError::parameter_too_short);
  bad = ok;
  bad[11] = 0x40;  // handle parameter past the message
  expect(bad, DecodeError::parameter_overrun);
  bad = ok;
  bad[0] = 0x42;
  expect(bad, DecodeError::unknown_message);
  expect(hex("0b000004"), DecodeError::missing_parameter);  // COOKIE without a cookie
  expect(hex("0e00000c 000c0008 00000003"), DecodeError::parameter_too_short);  // cause length 3
  expect(hex("0e00000c 000c0008 00030010"),
         DecodeError::parameter_overrun);  // cause past its parameter
  EXPECT_EQ(decode(Protocol::asap, ok, 16).error, DecodeError::too_long);
  // Nested overflow: a transport inside a pool element claiming more than the element holds.
  auto reg =
      hex("01000040 00090009 4563686f 35000000"
          "000a0030 abcdef01 00000000 00007530"
          "00040010 00070000 00010008 0a000001"
          "00080010 40000002 80000000 01000000");
  reg[34] = 0x00;
  reg[35] = 0x40;
  expect(reg, DecodeError::parameter_overrun);
  // A known parameter in the wrong message.
  expect(hex("0500000c 000e0008 00000001"), DecodeError::unexpected_parameter);
  // Two pool handles.
  expect(hex("05000014 00090008 61626364 00090008 61626364"), DecodeError::unexpected_parameter);
  // A wrong-size address.
  reg =
      hex("01000040 00090009 4563686f 35000000"
          "000a0030 abcdef01 00000000 00007530"
          "00040010 00070000 00010008 0a000001"
          "00080010 40000002 80000000 01000000");
  reg[43] = 0x07;
  expect(reg, DecodeError::invalid_value);
}

TEST(RserpoolCodec, UnknownParameterActions) {
  // HANDLE_RESOLUTION with the pool handle and one unknown parameter of each action.
  auto with = [](uint16_t type) {
    std::vector<uint8_t> m = hex("05000014 00090008 61626364");
    m.push_back(uint8_t(type >> 8));
    m.push_back(uint8_t(type));
    m.push_back(0);
    m.push_back(8);
    for (int i = 0; i < 4; ++i) m.push_back(0xee);
    return m;
  };
  DecodeResult r = decode(Protocol::asap, with(0x0077));
  EXPECT_EQ(r.error, DecodeError::unknown_parameter);
  EXPECT_TRUE(r.to_report.empty());
  r = decode(Protocol::asap, with(0x4077));
  EXPECT_EQ(r.error, DecodeError::unknown_parameter);
  ASSERT_EQ(r.to_report.size(), 1u);
  EXPECT_EQ(r.to_report[0], hex("40770008 eeeeeeee"));
  r = decode(Protocol::asap, with(0x8077));
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.to_report.empty());
  EXPECT_EQ(*r.message.pool_handle, "abcd");
  r = decode(Protocol::asap, with(0xc077));
  EXPECT_TRUE(r.ok());
  ASSERT_EQ(r.to_report.size(), 1u);
  EXPECT_EQ(cause_for(DecodeError::unknown_parameter), Cause::unrecognized_parameter);
  EXPECT_EQ(cause_for(DecodeError::unknown_message), Cause::unrecognized_message);
}

TEST(RserpoolCodec, RandomBytesNeverCrash) {
  std::mt19937_64 rng(42);
  const auto seed = encode(Message::registration("p", element(3)));
  size_t decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> bytes = seed;
    const int flips = 1 + int(rng() % 4);
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = uint8_t(rng());
    if (rng() % 4 == 0) bytes.resize(rng() % bytes.size());
    const DecodeResult r = decode(Protocol::asap, bytes);
    if (r.ok()) {
      ++decoded;
      // Whatever decodes re-encodes and decodes to the same message.
      EXPECT_EQ(decode(Protocol::asap, encode(r.message)).message, r.message);
    }
  }
  EXPECT_GT(decoded, 0u);
}

TEST(RserpoolCodec, EncodeRefusesOversizedMessages) {
  Message m = Message::asap(AsapType::cookie);
  m.cookie = std::vector<uint8_t>(70000, 1);
  EXPECT_THROW(encode(m), std::length_error);
}

TEST(Address, OfASocketAddress) {
  sockaddr_storage s{};
  auto& in = reinterpret_cast<sockaddr_in&>(s);
  in.sin_family = AF_INET;
  inet_pton(AF_INET, "192.0.2.7", &in.sin_addr);
  EXPECT_EQ(Address::of(s), *Address::parse("192.0.2.7"));
  s = {};
  auto& in6 = reinterpret_cast<sockaddr_in6&>(s);
  in6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "2001:db8::7", &in6.sin6_addr);
  EXPECT_EQ(Address::of(s), *Address::parse("2001:db8::7"));
  inet_pton(AF_INET6, "::ffff:198.51.100.1", &in6.sin6_addr);  // dual-stack socket
  EXPECT_EQ(Address::of(s), *Address::parse("198.51.100.1"));
  s = {};
  EXPECT_TRUE(Address::of(s).is_unspecified());
}

namespace poolflow::rserpool {

TEST(StorageCookie, RoundTripsInsideAnAsapCookie) {
  StorageCookie c;
  c.collector_pe = 0x1234abcd;
  c.session = 7;
  c.stored_ms = 1'780'000'000'123;
  c.positions = {{1, 1, 4000}, {2, 1, 0xfffffff0}, {0, 9, 3}};
  Message m = Message::asap(AsapType::cookie);
  m.cookie = encode_storage_cookie(c);
  const auto r = decode(Protocol::asap, encode(m));
  ASSERT_EQ(r.error, DecodeError::none);
  ASSERT_TRUE(r.message.cookie.has_value());
  EXPECT_EQ(decode_storage_cookie(*r.message.cookie), c);
}

TEST(StorageCookie, AnythingElseIsNotInterpreted) {
  StorageCookie c;
  c.positions = {{1, 1, 10}};
  const std::vector<uint8_t> good = encode_storage_cookie(c);
  EXPECT_TRUE(decode_storage_cookie(good).has_value());
  EXPECT_FALSE(decode_storage_cookie({}).has_value());
  std::vector<uint8_t> bad = good;
  bad[0] = 'X';  // another collector's cookie
  EXPECT_FALSE(decode_storage_cookie(bad).has_value());
  bad = good;
  bad[4] = 2;  // a version this exporter does not know
  EXPECT_FALSE(decode_storage_cookie(bad).has_value());
  bad = good;
  bad.pop_back();  // count and length disagree
  EXPECT_FALSE(decode_storage_cookie(bad).has_value());
  bad = good;
  bad[28] = 0xff;  // more positions than allowed
  EXPECT_FALSE(decode_storage_cookie(bad).has_value());
  std::mt19937 random(5);
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> noise(random() % 80);
    for (auto& b : noise) b = static_cast<uint8_t>(random());
    if (noise.size() >= 4) std::copy(good.begin(), good.begin() + 5, noise.begin());
    (void)decode_storage_cookie(noise);  // never crashes, never reads past the end
  }
}

}  // namespace poolflow::rserpool
