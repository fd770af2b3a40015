// The registrar's state machine with a simulated clock and no sockets: each
// validation rule of RFC 5352, lifetime expiry, keep-alive audit and removal,
// unreachable counting, association loss and the configured limits.
#include <gtest/gtest.h>

#include "poolflow/byte_order.h"
#include "rserpool/codec.h"
#include "rserpool/registrar.h"

using namespace poolflow::rserpool;
using poolflow::load_be16;
using poolflow::store_be16;

namespace {

constexpr uint64_t kA = 1, kB = 2;  // two ASAP associations

PoolElement pe(uint32_t id, const char* address = "192.0.2.1", uint16_t port = 4739) {
  PoolElement e;
  e.id = id;
  e.registration_life_ms = 30000;
  e.user_transport.kind = TransportKind::sctp;
  e.user_transport.port = port;
  e.user_transport.addresses.push_back(*Address::parse(address));
  e.policy.type = uint32_t(PolicyType::round_robin);
  return e;
}

std::vector<uint8_t> registration(const std::string& handle, const PoolElement& e) {
  return encode(Message::registration(handle, e));
}

std::vector<uint8_t> simple(AsapType type, const std::string& handle, uint32_t id) {
  Message m = Message::asap(type);
  m.pool_handle = handle;
  m.pe_id = id;
  return encode(m);
}

class RegistrarTest : public ::testing::Test {
 protected:
  RegistrarTest() : r(config(), 7) {
    r.association_up(kA, *Address::parse("192.0.2.1"), 0);
    r.association_up(kB, *Address::parse("192.0.2.2"), 0);
  }
  static RegistrarConfig config() {
    RegistrarConfig c;
    c.server_id = 0x5eed;
    c.max_pools = 3;
    c.max_elements_per_pool = 4;
    c.max_elements_per_peer = 5;
    c.max_associations_per_peer = 3;
    c.max_handle_length = 16;
    return c;
  }

  // Sends `bytes` on `association` at `now`; returns what the registrar answered.
  std::vector<Outgoing> send(uint64_t association, const std::vector<uint8_t>& bytes) {
    r.received(association, bytes, now);
    return r.take_outgoing();
  }
  std::optional<uint16_t> register_pe(uint64_t association, const std::string& handle,
                                      const PoolElement& e) {
    const auto out = send(association, registration(handle, e));
    EXPECT_EQ(out.size(), 1u);
    const Message& m = out.at(0).message;
    EXPECT_TRUE(m.is(AsapType::registration_response));
    EXPECT_EQ(*m.pe_id, e.id);
    if (m.flags & kFlagReject) return m.errors.at(0).code;
    EXPECT_TRUE(m.errors.empty());
    return std::nullopt;
  }
  // Advances the clock to `t`, timer by timer; with `answer`, every keep-alive
  // is acknowledged as soon as it is sent.
  std::vector<Outgoing> run_until(uint64_t t, bool answer = false) {
    std::vector<Outgoing> all;
    while (now < t) {
      now = std::min(t, std::max(now + 1, r.next_deadline()));
      r.advance(now);
      for (auto& o : r.take_outgoing()) {
        if (answer && o.message.is(AsapType::endpoint_keep_alive))
          r.received(
              o.association,
              simple(AsapType::endpoint_keep_alive_ack, *o.message.pool_handle, *o.message.pe_id),
              now);
        all.push_back(std::move(o));
      }
    }
    return all;
  }

  Registrar r;
  uint64_t now = 1000;
};

}  // namespace

TEST_F(RegistrarTest, RegistersResolvesAndDeregisters) {
  EXPECT_FALSE(register_pe(kA, "pool", pe(1)));
  EXPECT_FALSE(register_pe(kB, "pool", pe(2, "192.0.2.2")));
  auto out = send(kB, encode([] {
                    Message m = Message::asap(AsapType::handle_resolution);
                    m.pool_handle = "pool";
                    return m;
                  }()));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].association, kB);
  const Message& answer = out[0].message;
  EXPECT_TRUE(answer.is(AsapType::handle_resolution_response));
  ASSERT_EQ(answer.elements.size(), 2u);
  EXPECT_EQ(answer.elements[0].home_server, 0x5eedu);  // the registrar is their home
  EXPECT_EQ(answer.overall_policy->type, uint32_t(PolicyType::round_robin));

  out = send(kA, simple(AsapType::deregistration, "pool", 1));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].message.is(AsapType::deregistration_response));
  EXPECT_TRUE(out[0].message.errors.empty());
  EXPECT_EQ(r.element_count(), 1u);
  EXPECT_EQ(r.stats().deregistrations, 1u);
}

TEST_F(RegistrarTest, ResolutionOfAnUnknownPoolAnswersCause9) {
  Message m = Message::asap(AsapType::handle_resolution);
  m.pool_handle = "nothing";
  const auto out = send(kA, encode(m));
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].message.errors.size(), 1u);
  EXPECT_EQ(out[0].message.errors[0].code, uint16_t(Cause::unknown_pool_handle));
  EXPECT_TRUE(out[0].message.elements.empty());
  EXPECT_EQ(r.stats().resolutions_unknown_pool, 1u);
}

TEST_F(RegistrarTest, ResolutionHonoursTheRequestedItems) {
  for (uint32_t id = 1; id <= 4; ++id)
    ASSERT_FALSE(register_pe(kA, "pool", pe(id, "192.0.2.1", uint16_t(4000 + id))));
  Message m = Message::asap(AsapType::handle_resolution);
  m.pool_handle = "pool";
  m.resolution_items = 2;
  auto out = send(kA, encode(m));
  EXPECT_EQ(out.at(0).message.elements.size(), 2u);
  m.resolution_items = 0xffffffff;
  out = send(kA, encode(m));
  EXPECT_EQ(out.at(0).message.elements.size(), 4u);
  // Round robin: successive answers start with successive elements.
  std::set<uint32_t> firsts;
  for (int i = 0; i < 4; ++i) firsts.insert(send(kA, encode(m)).at(0).message.elements.at(0).id);
  EXPECT_EQ(firsts.size(), 4u);
}

TEST_F(RegistrarTest, ValidationRules) {
  ASSERT_FALSE(register_pe(kA, "pool", pe(1)));
  // Non-unique PE identifier: the same id from another element.
  EXPECT_EQ(register_pe(kB, "pool", pe(1, "192.0.2.2")), uint16_t(Cause::non_unique_pe_id));
  // One policy per pool.
  PoolElement other = pe(2);
  other.policy.type = uint32_t(PolicyType::least_used);
  EXPECT_EQ(register_pe(kA, "pool", other), uint16_t(Cause::inconsistent_policy));
  // One transport type per pool, and one data/control configuration.
  other = pe(3);
  other.user_transport.kind = TransportKind::udp;
  EXPECT_EQ(register_pe(kA, "pool", other), uint16_t(Cause::inconsistent_transport));
  other = pe(4);
  other.user_transport.transport_use = kTransportDataPlusControl;
  EXPECT_EQ(register_pe(kA, "pool", other), uint16_t(Cause::inconsistent_control));
  // Address scope: loopback (not allowed here), unspecified, multicast.
  EXPECT_EQ(register_pe(kA, "pool", pe(5, "127.0.0.1")), uint16_t(Cause::invalid_values));
  EXPECT_EQ(register_pe(kA, "pool", pe(5, "0.0.0.0")), uint16_t(Cause::invalid_values));
  EXPECT_EQ(register_pe(kA, "pool", pe(5, "224.0.1.185")), uint16_t(Cause::invalid_values));
  EXPECT_EQ(register_pe(kA, "pool", pe(5, "::1")), uint16_t(Cause::invalid_values));
  // Absurd lifetimes and a zero identifier.
  other = pe(6);
  other.registration_life_ms = -1;
  EXPECT_EQ(register_pe(kA, "pool", other), uint16_t(Cause::invalid_values));
  other.registration_life_ms = 0x7fffffff;
  EXPECT_EQ(register_pe(kA, "pool", other), uint16_t(Cause::invalid_values));
  EXPECT_EQ(register_pe(kA, "pool", pe(0)), uint16_t(Cause::invalid_values));
  // A handle longer than the limit.
  EXPECT_EQ(register_pe(kA, std::string(17, 'h'), pe(7)), uint16_t(Cause::invalid_values));
  EXPECT_EQ(r.element_count(), 1u);
  EXPECT_EQ(r.stats().registrations_rejected, 12u);
  EXPECT_EQ(r.stats().rejects_by_cause[size_t(Cause::invalid_values)], 8u);
}

TEST_F(RegistrarTest, RejectionsCarryTheOffendingParameter) {
  ASSERT_FALSE(register_pe(kA, "pool", pe(1)));
  // The cause as a pool element receives it: through the codec.
  auto cause_of = [&](const std::string& handle, const PoolElement& e) {
    const auto out = send(kA, registration(handle, e));
    EXPECT_EQ(out.size(), 1u);
    const DecodeResult d = decode(Protocol::asap, encode(out.at(0).message));
    EXPECT_TRUE(d.ok()) << d.detail;
    EXPECT_TRUE(d.message.flags & kFlagReject);
    return d.message.errors.at(0);
  };
  PoolElement other = pe(2);
  other.policy.type = uint32_t(PolicyType::least_used);
  other.policy.load = 0x1234;
  ErrorCause c = cause_of("pool", other);
  EXPECT_EQ(c.code, uint16_t(Cause::inconsistent_policy));
  EXPECT_EQ(c.info, encode_parameter(other.policy));
  EXPECT_EQ(load_be16(c.info.data()), uint16_t(ParamType::selection_policy));
  other = pe(3);
  other.user_transport.kind = TransportKind::tcp;
  c = cause_of("pool", other);
  EXPECT_EQ(c.code, uint16_t(Cause::inconsistent_transport));
  EXPECT_EQ(c.info, encode_parameter(other.user_transport));
  other = pe(4);
  other.registration_life_ms = -5;
  c = cause_of("pool", other);
  EXPECT_EQ(c.code, uint16_t(Cause::invalid_values));
  EXPECT_EQ(c.info, encode_parameter(other));
  c = cause_of("pool", pe(5, "0.0.0.0"));
  EXPECT_EQ(c.code, uint16_t(Cause::invalid_values));
  EXPECT_EQ(c.info, encode_parameter(pe(5, "0.0.0.0").user_transport));
  c = cause_of(std::string(17, 'h'), pe(6));
  EXPECT_EQ(c.code, uint16_t(Cause::invalid_values));
  EXPECT_EQ(c.info, encode_handle_parameter(std::string(17, 'h')));
  EXPECT_EQ(c.info.size(), 4u + 20u);  // 17 octets padded to 20
}

TEST_F(RegistrarTest, LoopbackAllowedBySwitch) {
  RegistrarConfig c = config();
  c.allow_loopback = true;
  Registrar loop(c, 1);
  loop.association_up(kA, *Address::parse("127.0.0.1"), 0);
  loop.received(kA, registration("pool", pe(1, "127.0.0.1")), 0);
  const auto out = loop.take_outgoing();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].message.flags & kFlagReject, 0);
  EXPECT_EQ(loop.element_count(), 1u);
}

TEST_F(RegistrarTest, ReregistrationUpdatesLoadAndLifetime) {
  PoolElement e = pe(1);
  e.policy.type = uint32_t(PolicyType::least_used);
  e.policy.load = 100;
  ASSERT_FALSE(register_pe(kA, "pool", e));
  now += 20000;
  e.policy.load = 900;
  e.registration_life_ms = 60000;
  ASSERT_FALSE(register_pe(kA, "pool", e));
  EXPECT_EQ(r.stats().reregistrations, 1u);
  EXPECT_EQ(r.resolve("pool").at(0).policy.load, 900u);
  // The first lifetime (30 s from t=1 s) has passed, the new one (60 s from t=21 s) has not;
  // keep-alives are answered meanwhile.
  EXPECT_GE(run_until(now + 50000, true).size(), 9u);  // about one keep-alive every 5 s
  EXPECT_EQ(r.element_count(), 1u);
  run_until(now +
            15000);  // answers no more keep-alives: at most interval + timeout later it is gone
  EXPECT_EQ(r.element_count(), 0u);
}

TEST_F(RegistrarTest, ExpiryOfTheRegistrationLife) {
  RegistrarConfig c = config();
  c.keep_alive_interval_ms = 1'000'000;  // keep-alives out of the way
  Registrar quiet(c, 1);
  quiet.association_up(kA, *Address::parse("192.0.2.1"), 0);
  PoolElement e = pe(1);
  e.registration_life_ms = 5000;
  quiet.received(kA, registration("pool", e), 0);
  quiet.advance(4999);
  EXPECT_EQ(quiet.element_count(), 1u);
  EXPECT_EQ(quiet.next_deadline(), 5000u);
  quiet.advance(5000);
  EXPECT_EQ(quiet.element_count(), 0u);
  EXPECT_EQ(quiet.pool_count(), 0u);
  EXPECT_EQ(quiet.stats().removed_expired, 1u);
}

TEST_F(RegistrarTest, KeepAliveAuditRemovesAnUnansweringElement) {
  ASSERT_FALSE(register_pe(kA, "pool", pe(1)));
  ASSERT_FALSE(register_pe(kB, "pool", pe(2, "192.0.2.2")));
  const uint64_t start = now;
  // The first audit comes one interval after registration, with H set and our id.
  auto out = run_until(start + 5000);
  ASSERT_EQ(out.size(), 2u);
  for (const Outgoing& o : out) {
    EXPECT_TRUE(o.message.is(AsapType::endpoint_keep_alive));
    EXPECT_EQ(o.message.flags, kFlagHome);
    EXPECT_EQ(o.message.sender, 0x5eedu);
  }
  // Only element 2 answers.
  r.received(kB, simple(AsapType::endpoint_keep_alive_ack, "pool", 2), now);
  run_until(start + 10000 - 1);
  EXPECT_EQ(r.element_count(), 2u);
  run_until(start + 10000);
  EXPECT_EQ(r.element_count(), 1u);
  EXPECT_EQ(r.resolve("pool").at(0).id, 2u);
  EXPECT_EQ(r.stats().removed_keep_alive, 1u);
  // An ACK from the wrong association does not count.
  out = run_until(start + 15000);
  r.received(kA, simple(AsapType::endpoint_keep_alive_ack, "pool", 2), now);
  run_until(start + 20000);
  EXPECT_EQ(r.element_count(), 0u);
}

TEST_F(RegistrarTest, AssociationLossRemovesItsElements) {
  ASSERT_FALSE(register_pe(kA, "pool", pe(1)));
  ASSERT_FALSE(register_pe(kA, "other", pe(2, "192.0.2.1", 4740)));
  ASSERT_FALSE(register_pe(kB, "pool", pe(3, "192.0.2.2")));
  r.association_down(kA, now);
  EXPECT_EQ(r.element_count(), 1u);
  EXPECT_EQ(r.pool_count(), 1u);
  EXPECT_EQ(r.stats().removed_association, 2u);
}

TEST_F(RegistrarTest, UnreachableReportsRemoveAfterTheConfiguredCount) {
  ASSERT_FALSE(register_pe(kA, "pool", pe(1)));
  send(kB, simple(AsapType::endpoint_unreachable, "pool", 1));
  send(kB, simple(AsapType::endpoint_unreachable, "pool", 1));
  EXPECT_EQ(r.element_count(), 1u);
  // A keep-alive answered in between starts the count again.
  EXPECT_EQ(run_until(now + 5000, true).size(), 1u);
  send(kB, simple(AsapType::endpoint_unreachable, "pool", 1));
  send(kB, simple(AsapType::endpoint_unreachable, "pool", 1));
  EXPECT_EQ(r.element_count(), 1u);
  EXPECT_TRUE(send(kB, simple(AsapType::endpoint_unreachable, "pool", 1)).empty());  // no answer
  EXPECT_EQ(r.element_count(), 0u);
  EXPECT_EQ(r.stats().removed_unreachable, 1u);
  send(kB, simple(AsapType::endpoint_unreachable, "pool", 1));
  EXPECT_EQ(r.stats().unreachable_unknown, 1u);
}

TEST_F(RegistrarTest, Limits) {
  // Pools.
  for (const char* h : {"a", "b", "c"}) ASSERT_FALSE(register_pe(kA, h, pe(1)));
  EXPECT_EQ(register_pe(kA, "d", pe(1)), uint16_t(Cause::lack_of_resources));
  // Elements per pool.
  for (uint32_t id = 2; id <= 4; ++id)
    ASSERT_FALSE(register_pe(kB, "a", pe(id, "192.0.2.2", uint16_t(5000 + id))));
  EXPECT_EQ(register_pe(kB, "a", pe(5, "192.0.2.2", 5005)), uint16_t(Cause::lack_of_resources));
  // Elements per peer address: kA has 3, kB 3; two more for kA reach its 5.
  ASSERT_FALSE(register_pe(kA, "b", pe(2, "192.0.2.1", 6000)));
  ASSERT_FALSE(register_pe(kA, "b", pe(3, "192.0.2.1", 6001)));
  EXPECT_EQ(register_pe(kA, "c", pe(4, "192.0.2.1", 6002)), uint16_t(Cause::lack_of_resources));
  // Associations per peer address: 1 is up, 2 more, then refused.
  const Address peer = *Address::parse("192.0.2.1");
  EXPECT_TRUE(r.association_up(10, peer, now));
  EXPECT_TRUE(r.association_up(11, peer, now));
  EXPECT_FALSE(r.association_up(12, peer, now));
  EXPECT_EQ(r.stats().associations_refused, 1u);
  r.association_down(10, now);
  EXPECT_TRUE(r.association_up(12, peer, now));
  EXPECT_EQ(r.stats().rejects_by_cause[size_t(Cause::lack_of_resources)], 3u);
}

TEST_F(RegistrarTest, MalformedMessagesAreAnsweredCountedAndAbortTheAssociationAtTheLimit) {
  RegistrarConfig c = config();
  c.max_bad_messages = 4;
  Registrar strict(c, 1);
  strict.association_up(kA, *Address::parse("192.0.2.1"), 0);
  const std::vector<uint8_t> garbage{0x01, 0x00, 0x00, 0x09, 0xde, 0xad, 0xbe, 0xef, 0x00};
  // Not parsed: no parameter to show in a cause 3, so dropped and counted.
  strict.received(kA, garbage, 0);
  auto out = strict.take_outgoing();
  EXPECT_TRUE(out.empty());
  // An unknown message type is answered with cause 2, carrying its header.
  strict.received(kA, std::vector<uint8_t>{0x42, 0x00, 0x00, 0x04}, 0);
  out = strict.take_outgoing();
  EXPECT_EQ(out.at(0).message.errors.at(0).code, uint16_t(Cause::unrecognized_message));
  EXPECT_EQ(out.at(0).message.errors.at(0).info, (std::vector<uint8_t>{0x42, 0x00, 0x00, 0x04}));
  // One over the size limit, with cause 6 and nothing more.
  std::vector<uint8_t> huge(c.max_message_size + 4, 0);
  huge[0] = 0x03;
  store_be16(&huge[2], static_cast<uint16_t>(huge.size()));
  strict.received(kA, huge, 0);
  out = strict.take_outgoing();
  EXPECT_EQ(out.at(0).message.errors.at(0).code, uint16_t(Cause::lack_of_resources));
  EXPECT_TRUE(out.at(0).message.errors.at(0).info.empty());
  strict.received(kA, garbage, 0);
  out = strict.take_outgoing();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].abort);
  EXPECT_EQ(strict.stats().malformed, 4u);
  EXPECT_EQ(strict.stats().associations_aborted, 1u);
}

TEST_F(RegistrarTest, UnknownParametersToReportAreReportedAndTheRestProcessed) {
  std::vector<uint8_t> m = encode([] {
    Message h = Message::asap(AsapType::handle_resolution);
    h.pool_handle = "pool";
    return h;
  }());
  for (const uint8_t b : {0xc0, 0x99, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00}) m.push_back(b);
  m[3] = uint8_t(m.size());
  const auto out = send(kA, m);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].message.is(AsapType::error));
  EXPECT_EQ(out[0].message.errors.at(0).code, uint16_t(Cause::unrecognized_parameter));
  EXPECT_TRUE(out[1].message.is(AsapType::handle_resolution_response));
}

TEST_F(RegistrarTest, OnlyTheElementItselfMayDeregisterIt) {
  ASSERT_FALSE(register_pe(kA, "pool", pe(1)));
  auto out = send(kB, simple(AsapType::deregistration, "pool", 1));
  EXPECT_EQ(out.at(0).message.errors.at(0).code, uint16_t(Cause::rejected_security));
  EXPECT_EQ(r.element_count(), 1u);
  out = send(kA, simple(AsapType::deregistration, "nothing", 1));
  EXPECT_EQ(out.at(0).message.errors.at(0).code, uint16_t(Cause::unknown_pool_handle));
}
