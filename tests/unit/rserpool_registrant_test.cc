// The pool element's ASAP state machine (Registrant) with a simulated clock and
// no sockets: registration, re-registration with the current load, rejection,
// response timeouts and the hunt for the next registrar, association loss,
// keep-alive answers and deregistration; then three of them against the
// registrar's state machine through the real codec, connected by an in-test
// network: keep-alive audit of a killed element, deregistration, registrar
// restart and load reporting.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rserpool/codec.h"
#include "rserpool/registrant.h"
#include "rserpool/registrar.h"
#include "rserpool_wire.h"

using namespace poolflow::rserpool;

namespace {

using Kind = RegistrantAction::Kind;
using State = Registrant::State;

const std::string kHandle = "ipfix-collectors";
constexpr uint32_t kId = 0x0000c0de;

PoolElement element(uint32_t id, uint16_t port, const char* address = "127.0.0.1") {
  PoolElement e;
  e.id = id;
  e.registration_life_ms = 30000;
  e.user_transport.kind = TransportKind::sctp;
  e.user_transport.port = port;
  e.user_transport.addresses.push_back(*Address::parse(address));
  e.policy.type = uint32_t(PolicyType::least_used);
  return e;
}

// Values unlike the defaults, so that each time asserted comes from the config.
RegistrantConfig registrant_config(uint32_t id = kId, uint16_t port = 4739, size_t registrars = 1) {
  RegistrantConfig c;
  c.handle = kHandle;
  c.element = element(id, port);
  c.registrars = registrars;
  c.reregistration_interval_ms = 7000;
  c.response_timeout_ms = 2000;
  c.reconnect_interval_ms = 700;
  return c;
}

// What a registrar sends, as on the wire.
std::vector<uint8_t> reply(AsapType type, const std::string& handle = kHandle, uint32_t id = kId,
                           uint8_t flags = 0, std::optional<Cause> cause = std::nullopt) {
  Message m = Message::asap(type, flags);
  m.pool_handle = handle;
  m.pe_id = id;
  if (cause) m.errors.push_back(make_cause(*cause));
  if (type == AsapType::endpoint_keep_alive) m.sender = 0x5eed;
  return encode(m);
}

std::vector<uint8_t> accepted() { return reply(AsapType::registration_response); }

using poolflow::rserpool::testing::wire;

class RegistrantTest : public ::testing::Test {
 protected:
  // Runs start() and association_up(); returns the REGISTRATION sent.
  Message start_and_connect(Registrant& r) {
    r.start(now);
    auto a = r.take_actions();
    EXPECT_EQ(a.size(), 1u);
    r.association_up(now);
    a = r.take_actions();
    EXPECT_EQ(a.size(), 1u);
    EXPECT_EQ(a.at(0).kind, Kind::send);
    EXPECT_EQ(r.state(), State::registering);
    return wire(a.at(0).message);
  }
  void register_it(Registrant& r) {
    start_and_connect(r);
    r.received(accepted(), now);
    ASSERT_EQ(r.state(), State::registered);
    ASSERT_TRUE(r.take_actions().empty());
  }

  Registrant pe{registrant_config()};
  uint64_t now = 1000;
};

}  // namespace

// ---- 1. start, registration, re-registration ---------------------------------

TEST_F(RegistrantTest, StartAsksForRegistrarZero) {
  EXPECT_EQ(pe.state(), State::idle);
  EXPECT_EQ(pe.next_deadline(), UINT64_MAX);
  pe.start(now);
  const auto a = pe.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::connect);
  EXPECT_EQ(a[0].registrar, 0u);
  EXPECT_EQ(pe.state(), State::connecting);
  EXPECT_EQ(pe.registrar(), 0u);
  EXPECT_EQ(pe.next_deadline(), now + 2000);  // the connection is given the response timeout
  EXPECT_TRUE(pe.take_actions().empty());
}

TEST_F(RegistrantTest, AssociationUpSendsARegistrationWithHandleElementAndLoad) {
  pe.set_load(kFullLoad / 4);
  pe.start(now);
  pe.take_actions();
  now += 150;
  pe.association_up(now);
  const auto a = pe.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::send);
  EXPECT_EQ(a[0].registrar, 0u);
  const Message m = wire(a[0].message);
  EXPECT_TRUE(m.is(AsapType::registration));
  EXPECT_EQ(m.pool_handle, kHandle);
  ASSERT_EQ(m.elements.size(), 1u);
  PoolElement expected = registrant_config().element;
  expected.policy.load = kFullLoad / 4;
  EXPECT_EQ(m.elements[0], expected);
  EXPECT_EQ(m.elements[0].policy.load, kFullLoad / 4);
  EXPECT_EQ(pe.state(), State::registering);
  EXPECT_EQ(pe.next_deadline(), now + 2000);
  EXPECT_EQ(pe.stats().registrations_sent, 1u);
}

TEST_F(RegistrantTest, AssociationUpWhenNotConnectingDoesNothing) {
  pe.association_up(now);  // idle
  EXPECT_TRUE(pe.take_actions().empty());
  EXPECT_EQ(pe.state(), State::idle);
  register_it(pe);
  pe.association_up(now);  // registered
  EXPECT_TRUE(pe.take_actions().empty());
  EXPECT_EQ(pe.stats().registrations_sent, 1u);
}

TEST_F(RegistrantTest, AcceptedResponseRegistersAndReregistersEveryIntervalWithTheCurrentLoad) {
  start_and_connect(pe);
  now += 20;
  pe.received(accepted(), now);
  EXPECT_EQ(pe.state(), State::registered);
  EXPECT_EQ(pe.stats().registered, 1u);
  EXPECT_EQ(pe.stats().ignored, 0u);
  EXPECT_TRUE(pe.take_actions().empty());
  uint64_t due = now + 7000;
  EXPECT_EQ(pe.next_deadline(), due);

  for (uint32_t round = 1; round <= 3; ++round) {
    const uint32_t load = round * (kFullLoad / 5);
    pe.set_load(load);
    pe.advance(due - 1);
    EXPECT_TRUE(pe.take_actions().empty()) << round;
    EXPECT_EQ(pe.state(), State::registered);
    now = due;
    pe.advance(now);
    const auto a = pe.take_actions();
    ASSERT_EQ(a.size(), 1u) << round;
    EXPECT_EQ(a[0].kind, Kind::send);
    const Message m = wire(a[0].message);
    EXPECT_TRUE(m.is(AsapType::registration));
    ASSERT_EQ(m.elements.size(), 1u);
    EXPECT_EQ(m.elements[0].id, kId);
    EXPECT_EQ(m.elements[0].policy.load, load);
    EXPECT_EQ(pe.state(), State::registering);
    EXPECT_EQ(pe.next_deadline(), now + 2000);
    now += 5;
    pe.received(accepted(), now);
    EXPECT_EQ(pe.state(), State::registered);
    due = now + 7000;
    EXPECT_EQ(pe.next_deadline(), due);
  }
  EXPECT_EQ(pe.stats().registrations_sent, 4u);
  EXPECT_EQ(pe.stats().registered, 4u);
  EXPECT_EQ(pe.stats().timeouts, 0u);
}

// ---- 2. rejection ---------------------------------------------------------

TEST_F(RegistrantTest, RejectedResponseIsRecordedAndRetriedAfterTheInterval) {
  start_and_connect(pe);
  now += 10;
  pe.received(
      reply(AsapType::registration_response, kHandle, kId, kFlagReject, Cause::inconsistent_policy),
      now);
  EXPECT_EQ(pe.state(), State::rejected);
  EXPECT_EQ(pe.stats().rejected, 1u);
  EXPECT_EQ(pe.stats().last_reject_cause, uint16_t(Cause::inconsistent_policy));
  EXPECT_EQ(pe.stats().registered, 0u);
  EXPECT_TRUE(pe.take_actions().empty());  // the association stays
  const uint64_t retry = now + 7000;
  EXPECT_EQ(pe.next_deadline(), retry);

  pe.advance(retry - 1);
  EXPECT_TRUE(pe.take_actions().empty());
  pe.advance(retry);
  auto a = pe.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::send);
  EXPECT_TRUE(wire(a[0].message).is(AsapType::registration));
  EXPECT_EQ(pe.state(), State::registering);
  EXPECT_EQ(pe.stats().registrations_sent, 2u);

  // Rejected again, for another cause: the last one is kept.
  now = retry;
  pe.received(
      reply(AsapType::registration_response, kHandle, kId, kFlagReject, Cause::lack_of_resources),
      now);
  EXPECT_EQ(pe.state(), State::rejected);
  EXPECT_EQ(pe.stats().rejected, 2u);
  EXPECT_EQ(pe.stats().last_reject_cause, uint16_t(Cause::lack_of_resources));
  now += 7000;
  pe.advance(now);
  ASSERT_EQ(pe.take_actions().size(), 1u);
  pe.received(accepted(), now);
  EXPECT_EQ(pe.state(), State::registered);
  EXPECT_EQ(pe.stats().registered, 1u);
  EXPECT_EQ(pe.stats().rejected, 2u);
}

TEST_F(RegistrantTest, TheRealRegistrarsRejectionReachesTheStats) {
  RegistrarConfig rc;  // loopback addresses not allowed
  Registrar registrar(rc, 1);
  ASSERT_TRUE(registrar.association_up(1, *Address::parse("127.0.0.1"), now));
  pe.start(now);
  pe.take_actions();
  pe.association_up(now);
  auto a = pe.take_actions();
  ASSERT_EQ(a.size(), 1u);
  registrar.received(1, encode(a[0].message), now);
  auto out = registrar.take_outgoing();
  ASSERT_EQ(out.size(), 1u);
  pe.received(encode(out[0].message), now);
  EXPECT_EQ(pe.state(), State::rejected);
  EXPECT_EQ(pe.stats().last_reject_cause, uint16_t(Cause::invalid_values));
  EXPECT_EQ(registrar.element_count(), 0u);
}

// ---- 3. response timeout, hunting ---------------------------------------------

TEST_F(RegistrantTest, UnansweredRegistrationHuntsTheNextRegistrarWrappingAround) {
  Registrant r(registrant_config(kId, 4739, 3));
  r.start(now);
  auto a = r.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].registrar, 0u);
  const uint64_t sent = now;
  r.association_up(now);
  ASSERT_EQ(r.take_actions().size(), 1u);

  r.advance(sent + 2000 - 1);
  EXPECT_TRUE(r.take_actions().empty());
  EXPECT_EQ(r.state(), State::registering);
  now = sent + 2000;
  r.advance(now);
  a = r.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::disconnect);
  EXPECT_EQ(a[0].registrar, 0u);  // the one that did not answer
  EXPECT_EQ(r.stats().timeouts, 1u);
  EXPECT_EQ(r.state(), State::waiting);
  EXPECT_EQ(r.registrar(), 1u);
  EXPECT_EQ(r.next_deadline(), now + 700);

  r.advance(now + 699);
  EXPECT_TRUE(r.take_actions().empty());
  now += 700;
  r.advance(now);
  a = r.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::connect);
  EXPECT_EQ(a[0].registrar, 1u);
  EXPECT_EQ(r.state(), State::connecting);

  // Registrar 1 does not even accept the association: on after the timeout.
  now += 2000;
  r.advance(now);
  a = r.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::disconnect);
  EXPECT_EQ(a[0].registrar, 1u);
  EXPECT_EQ(r.registrar(), 2u);
  EXPECT_EQ(r.stats().timeouts, 1u);  // no registration went unanswered there
  now += 700;
  r.advance(now);
  a = r.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].registrar, 2u);

  // Registrar 2 takes the association, not the registration.
  r.association_up(now);
  ASSERT_EQ(r.take_actions().size(), 1u);
  now += 2000;
  r.advance(now);
  a = r.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::disconnect);
  EXPECT_EQ(a[0].registrar, 2u);
  EXPECT_EQ(r.stats().timeouts, 2u);
  EXPECT_EQ(r.registrar(), 0u);  // wrapped around
  now += 700;
  r.advance(now);
  a = r.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::connect);
  EXPECT_EQ(a[0].registrar, 0u);
  r.association_up(now);
  ASSERT_EQ(r.take_actions().size(), 1u);
  r.received(accepted(), now);
  EXPECT_EQ(r.state(), State::registered);
  EXPECT_EQ(r.stats().registrations_sent, 3u);
}

TEST_F(RegistrantTest, UnansweredReregistrationHuntsToo) {
  Registrant r(registrant_config(kId, 4739, 2));
  register_it(r);
  now += 7000;
  r.advance(now);
  ASSERT_EQ(r.take_actions().size(), 1u);
  EXPECT_EQ(r.state(), State::registering);
  now += 2000;
  r.advance(now);
  const auto a = r.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::disconnect);
  EXPECT_EQ(a[0].registrar, 0u);
  EXPECT_EQ(r.registrar(), 1u);
  EXPECT_EQ(r.stats().timeouts, 1u);
  EXPECT_EQ(r.state(), State::waiting);
  // A late answer from the registrar left behind changes nothing.
  r.received(accepted(), now + 1);
  EXPECT_EQ(r.state(), State::waiting);
  EXPECT_EQ(r.stats().ignored, 1u);
}

TEST_F(RegistrantTest, OneRegistrarIsTriedAgainAndAgain) {
  register_it(pe);
  pe.association_down(now);
  auto a = pe.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(pe.registrar(), 0u);
  now += 700;
  pe.advance(now);
  a = pe.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::connect);
  EXPECT_EQ(a[0].registrar, 0u);
}

// ---- 4. association loss -------------------------------------------------

TEST_F(RegistrantTest, AssociationLossWhileRegisteredHuntsAndRegistersAgain) {
  Registrant r(registrant_config(kId, 4739, 2));
  register_it(r);
  now += 3000;
  r.association_down(now);
  auto a = r.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::disconnect);
  EXPECT_EQ(a[0].registrar, 0u);
  EXPECT_EQ(r.stats().associations_lost, 1u);
  EXPECT_EQ(r.state(), State::waiting);
  EXPECT_EQ(r.registrar(), 1u);
  EXPECT_EQ(r.next_deadline(), now + 700);
  // The re-registration that was due no longer is.
  r.advance(now + 699);
  EXPECT_TRUE(r.take_actions().empty());
  now += 700;
  r.advance(now);
  a = r.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::connect);
  EXPECT_EQ(a[0].registrar, 1u);
  r.set_load(1234);
  r.association_up(now);
  a = r.take_actions();
  ASSERT_EQ(a.size(), 1u);
  const Message m = wire(a[0].message);
  EXPECT_TRUE(m.is(AsapType::registration));
  EXPECT_EQ(m.elements.at(0).policy.load, 1234u);
  r.received(accepted(), now);
  EXPECT_EQ(r.state(), State::registered);
  EXPECT_EQ(r.stats().registered, 2u);
  EXPECT_EQ(r.stats().registrations_sent, 2u);
  EXPECT_EQ(r.next_deadline(), now + 7000);
}

TEST_F(RegistrantTest, AssociationLossWhileRegisteringOrConnectingHunts) {
  Registrant r(registrant_config(kId, 4739, 2));
  start_and_connect(r);
  r.association_down(now);
  EXPECT_EQ(r.take_actions().size(), 1u);
  EXPECT_EQ(r.state(), State::waiting);
  EXPECT_EQ(r.registrar(), 1u);
  now += 700;
  r.advance(now);
  ASSERT_EQ(r.take_actions().size(), 1u);
  EXPECT_EQ(r.state(), State::connecting);
  r.association_down(now);  // the association could not be set up
  EXPECT_EQ(r.take_actions().size(), 1u);
  EXPECT_EQ(r.registrar(), 0u);
  EXPECT_EQ(r.stats().associations_lost, 2u);
  EXPECT_EQ(r.stats().timeouts, 0u);
}

// BUG (see the report): an association_down while waiting, i.e. for the
// association the registrant itself dropped, hunts again and skips a registrar.
TEST_F(RegistrantTest, AssociationDownWhileWaitingIsIgnored) {
  Registrant r(registrant_config(kId, 4739, 3));
  register_it(r);
  r.association_down(now);  // registrar 0 lost: disconnect, wait, then registrar 1
  ASSERT_EQ(r.take_actions().size(), 1u);
  ASSERT_EQ(r.registrar(), 1u);
  const uint64_t reconnect = r.next_deadline();
  // The transport reports the end of the association it was told to drop.
  r.association_down(now + 10);
  EXPECT_TRUE(r.take_actions().empty());
  EXPECT_EQ(r.registrar(), 1u);
  EXPECT_EQ(r.next_deadline(), reconnect);
  EXPECT_EQ(r.stats().associations_lost, 1u);
}

TEST_F(RegistrantTest, AssociationEventsBeforeStartAreIgnored) {
  pe.association_down(now);
  pe.advance(now + 100000);
  EXPECT_TRUE(pe.take_actions().empty());
  EXPECT_EQ(pe.state(), State::idle);
  EXPECT_EQ(pe.stats().associations_lost, 0u);
}

// ---- 5. keep-alive, foreign and malformed messages -----------------------------

TEST_F(RegistrantTest, KeepAliveIsAnsweredWithHandleAndId) {
  register_it(pe);
  const uint64_t due = pe.next_deadline();
  now += 1000;
  pe.received(reply(AsapType::endpoint_keep_alive, kHandle, kId, kFlagHome), now);
  const auto a = pe.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::send);
  const Message m = wire(a[0].message);
  EXPECT_TRUE(m.is(AsapType::endpoint_keep_alive_ack));
  EXPECT_EQ(m.pool_handle, kHandle);
  EXPECT_EQ(m.pe_id, kId);
  EXPECT_EQ(pe.stats().keep_alives_answered, 1u);
  EXPECT_EQ(pe.state(), State::registered);
  EXPECT_EQ(pe.next_deadline(), due);  // the re-registration stays when it was
  EXPECT_EQ(pe.stats().ignored, 0u);
}

TEST_F(RegistrantTest, ForeignAndMalformedMessagesAreIgnoredAndCounted) {
  register_it(pe);
  const uint64_t due = pe.next_deadline();
  uint64_t ignored = 0;
  auto expect_ignored = [&](const std::vector<uint8_t>& bytes, const char* what) {
    pe.received(bytes, now);
    EXPECT_TRUE(pe.take_actions().empty()) << what;
    EXPECT_EQ(pe.stats().ignored, ++ignored) << what;
    EXPECT_EQ(pe.state(), State::registered) << what;
    EXPECT_EQ(pe.next_deadline(), due) << what;
  };
  expect_ignored(reply(AsapType::endpoint_keep_alive, "other-pool", kId), "other handle");
  expect_ignored(reply(AsapType::endpoint_keep_alive, kHandle, kId + 1), "other PE id");
  expect_ignored({}, "empty");
  expect_ignored({0x07, 0x00}, "short");
  expect_ignored({0x07, 0x00, 0x00, 0x08, 0xde, 0xad, 0xbe, 0xef}, "keep-alive without parameters");
  expect_ignored({0x42, 0x00, 0x00, 0x04}, "unknown type");
  std::vector<uint8_t> bad_length = reply(AsapType::endpoint_keep_alive);
  bad_length[3] ^= 0x10;
  expect_ignored(bad_length, "length mismatch");
  expect_ignored(reply(AsapType::registration_response), "response to nothing");
  expect_ignored(reply(AsapType::deregistration_response), "deregistration response to nothing");
  expect_ignored(
      reply(AsapType::registration_response, "other-pool", kId, kFlagReject, Cause::invalid_values),
      "another pool's rejection");
  Message error = Message::asap(AsapType::error);
  error.errors.push_back(make_cause(Cause::unrecognized_message));
  expect_ignored(encode(error), "ASAP_ERROR");
  EXPECT_EQ(pe.stats().keep_alives_answered, 0u);
  EXPECT_EQ(pe.stats().rejected, 0u);
}

// ---- 6. stop ---------------------------------------------------------------

TEST_F(RegistrantTest, StopWhenRegisteredDeregistersAndStopsOnTheResponse) {
  register_it(pe);
  now += 500;
  pe.stop(now);
  auto a = pe.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::send);
  const Message m = wire(a[0].message);
  EXPECT_TRUE(m.is(AsapType::deregistration));
  EXPECT_EQ(m.pool_handle, kHandle);
  EXPECT_EQ(m.pe_id, kId);
  EXPECT_EQ(pe.state(), State::deregistering);
  EXPECT_EQ(pe.next_deadline(), now + 2000);
  // A keep-alive still in flight is answered meanwhile.
  pe.received(reply(AsapType::endpoint_keep_alive), now);
  EXPECT_EQ(pe.take_actions().size(), 1u);
  now += 30;
  pe.received(reply(AsapType::deregistration_response), now);
  a = pe.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::disconnect);
  EXPECT_EQ(a[0].registrar, 0u);
  EXPECT_EQ(pe.state(), State::stopped);
  EXPECT_EQ(pe.next_deadline(), UINT64_MAX);
  pe.advance(now + 1'000'000);
  EXPECT_TRUE(pe.take_actions().empty());
  EXPECT_EQ(pe.stats().registrations_sent, 1u);
}

TEST_F(RegistrantTest, StopEndsOnTheDeregistrationTimeout) {
  register_it(pe);
  pe.stop(now);
  ASSERT_EQ(pe.take_actions().size(), 1u);
  pe.advance(now + 1999);
  EXPECT_TRUE(pe.take_actions().empty());
  EXPECT_EQ(pe.state(), State::deregistering);
  pe.advance(now + 2000);
  const auto a = pe.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::disconnect);
  EXPECT_EQ(pe.state(), State::stopped);
  EXPECT_EQ(pe.next_deadline(), UINT64_MAX);
  EXPECT_EQ(pe.stats().timeouts, 0u);  // deregistrations are not counted there
  // A late response is not for a stopped element.
  pe.received(reply(AsapType::deregistration_response), now + 2001);
  EXPECT_TRUE(pe.take_actions().empty());
  EXPECT_EQ(pe.state(), State::stopped);
}

TEST_F(RegistrantTest, StopEndsOnAssociationLossWhileDeregistering) {
  register_it(pe);
  pe.stop(now);
  ASSERT_EQ(pe.take_actions().size(), 1u);
  pe.association_down(now + 10);
  EXPECT_EQ(pe.state(), State::stopped);
  EXPECT_EQ(pe.next_deadline(), UINT64_MAX);
  EXPECT_EQ(pe.stats().associations_lost, 0u);  // it was going anyway
  EXPECT_EQ(pe.registrar(), 0u);                // no hunt
  pe.advance(now + 100000);
  for (const auto& a : pe.take_actions()) EXPECT_NE(a.kind, Kind::connect);
}

// The brief asks for a disconnect action on every way into stopped from
// deregistering; on association loss there is none (see the report: the
// other path of association loss, hunt(), does give one).
TEST_F(RegistrantTest, AssociationLossWhileDeregisteringGivesADisconnect) {
  register_it(pe);
  pe.stop(now);
  ASSERT_EQ(pe.take_actions().size(), 1u);
  pe.association_down(now + 10);
  const auto a = pe.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::disconnect);
  EXPECT_EQ(a[0].registrar, 0u);
}

TEST_F(RegistrantTest, StopBeforeRegistrationJustDisconnects) {
  pe.start(now);
  pe.take_actions();
  pe.stop(now + 5);
  auto a = pe.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::disconnect);
  EXPECT_EQ(a[0].registrar, 0u);
  EXPECT_EQ(pe.state(), State::stopped);
  EXPECT_EQ(pe.next_deadline(), UINT64_MAX);
  // A late association_up does not register it.
  pe.association_up(now + 6);
  EXPECT_TRUE(pe.take_actions().empty());
  EXPECT_EQ(pe.stats().registrations_sent, 0u);
  // Stopping again, or an association loss, does nothing more.
  pe.stop(now + 7);
  pe.association_down(now + 8);
  EXPECT_TRUE(pe.take_actions().empty());
  EXPECT_EQ(pe.state(), State::stopped);
}

TEST_F(RegistrantTest, StopWhileWaitingForTheNextRegistrarStopsTheHunt) {
  Registrant r(registrant_config(kId, 4739, 2));
  register_it(r);
  r.association_down(now);
  ASSERT_EQ(r.take_actions().size(), 1u);
  ASSERT_EQ(r.state(), State::waiting);
  r.stop(now + 100);
  for (const auto& a : r.take_actions()) EXPECT_NE(a.kind, Kind::send);
  EXPECT_EQ(r.state(), State::stopped);
  EXPECT_EQ(r.next_deadline(), UINT64_MAX);
  r.advance(now + 100000);
  EXPECT_TRUE(r.take_actions().empty());  // no connect to the next registrar
}

TEST_F(RegistrantTest, StopWhenIdleHasNothingToDisconnect) {
  pe.stop(now);
  EXPECT_TRUE(pe.take_actions().empty());
  EXPECT_EQ(pe.state(), State::stopped);
}

TEST_F(RegistrantTest, StopWhileRegisteringOrRejectedDeregisters) {
  start_and_connect(pe);
  pe.stop(now);
  auto a = pe.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_TRUE(wire(a[0].message).is(AsapType::deregistration));
  // The answer to the registration, then to the deregistration.
  pe.received(accepted(), now);
  EXPECT_EQ(pe.state(), State::deregistering);
  EXPECT_EQ(pe.stats().registered, 0u);
  pe.received(reply(AsapType::deregistration_response), now);
  EXPECT_EQ(pe.state(), State::stopped);

  Registrant r(registrant_config());
  start_and_connect(r);
  r.received(
      reply(AsapType::registration_response, kHandle, kId, kFlagReject, Cause::invalid_values),
      now);
  ASSERT_EQ(r.state(), State::rejected);
  r.stop(now);
  a = r.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_TRUE(wire(a[0].message).is(AsapType::deregistration));
  EXPECT_EQ(r.state(), State::deregistering);
}

// ---- 7. three registrants and a registrar, end to end ---------------------------

namespace {

constexpr uint32_t kKeepAliveInterval = 1000, kKeepAliveTimeout = 1000;
constexpr uint32_t kReregistration = 5000, kReconnect = 1000;

// Moves encoded messages between one Registrar and the Registrants, and steps
// the clock from deadline to deadline. Each connection is a new association.
class Network {
 public:
  struct Node {
    Registrant pe;
    uint64_t association = 0;
    bool up = false;
    bool killed = false;  ///< frozen: nothing from or to it, no timers
  };

  Network() : registrar_(std::make_unique<Registrar>(registrar_config(), 11)) {
    for (uint32_t i = 0; i < 3; ++i) {
      RegistrantConfig c;
      c.handle = kHandle;
      c.element = element(0x100 + i, uint16_t(4739 + i));
      c.element.policy.load = (i + 1) * (kFullLoad / 10);
      c.registrars = 1;
      c.reregistration_interval_ms = kReregistration;
      c.response_timeout_ms = 2000;
      c.reconnect_interval_ms = kReconnect;
      nodes_.push_back({Registrant(c)});
    }
  }

  static RegistrarConfig registrar_config() {
    RegistrarConfig c;
    c.server_id = 0x5eed;
    c.allow_loopback = true;
    c.keep_alive_interval_ms = kKeepAliveInterval;
    c.keep_alive_timeout_ms = kKeepAliveTimeout;
    return c;
  }

  void start_all() {
    for (Node& n : nodes_) n.pe.start(now_);
    deliver();
  }

  // Until nothing is left to deliver at this instant.
  void deliver() {
    for (bool busy = true; busy;) {
      busy = false;
      for (Node& n : nodes_) {
        if (n.killed) continue;
        for (RegistrantAction& a : n.pe.take_actions()) {
          busy = true;
          switch (a.kind) {
            case Kind::connect:
              EXPECT_EQ(a.registrar, 0u);
              ++connects_;
              n.association = next_association_++;
              n.up = registrar_->association_up(n.association, *Address::parse("127.0.0.1"), now_);
              if (n.up) n.pe.association_up(now_);
              break;
            case Kind::disconnect:
              if (n.up) registrar_->association_down(n.association, now_);
              n.up = false;
              break;
            case Kind::send:
              if (n.up) registrar_->received(n.association, encode(a.message), now_);
              break;
          }
        }
      }
      for (Outgoing& o : registrar_->take_outgoing()) {
        busy = true;
        Node* to = nullptr;
        for (Node& n : nodes_)
          if (n.up && n.association == o.association) to = &n;
        if (to == nullptr || to->killed) continue;
        if (o.abort) {
          to->up = false;
          to->pe.association_down(now_);
        } else {
          to->pe.received(encode(o.message), now_);
        }
      }
    }
  }

  uint64_t next_deadline() const {
    uint64_t d = registrar_->next_deadline();
    for (const Node& n : nodes_)
      if (!n.killed) d = std::min(d, n.pe.next_deadline());
    return d;
  }

  // Steps the clock to each deadline up to `t`, then to `t`.
  void run_until(uint64_t t) {
    deliver();
    for (int steps = 0; next_deadline() <= t; ++steps) {
      ASSERT_LT(steps, 100000) << "no progress at " << now_;
      now_ = std::max(now_, next_deadline());
      registrar_->advance(now_);
      for (Node& n : nodes_)
        if (!n.killed) n.pe.advance(now_);
      deliver();
    }
    now_ = std::max(now_, t);
  }

  // The registrar process restarts: a fresh one, with an empty handlespace;
  // every association to the old one is lost.
  void restart_registrar() {
    registrar_ = std::make_unique<Registrar>(registrar_config(), 12);
    for (Node& n : nodes_) {
      if (n.killed || !n.up) continue;
      n.up = false;
      n.pe.association_down(now_);
    }
    deliver();
  }

  std::map<uint32_t, PoolElement> handlespace() {
    std::map<uint32_t, PoolElement> out;
    for (const PoolElement& e : registrar_->resolve(kHandle)) out[e.id] = e;
    return out;
  }
  bool resolvable(uint32_t id) { return handlespace().contains(id); }

  Registrar& registrar() { return *registrar_; }
  Node& node(size_t i) { return nodes_.at(i); }
  uint64_t now() const { return now_; }
  uint64_t connects() const { return connects_; }

 private:
  std::unique_ptr<Registrar> registrar_;
  std::vector<Node> nodes_;
  uint64_t now_ = 0;
  uint64_t next_association_ = 100;
  uint64_t connects_ = 0;
};

uint32_t id_of(size_t i) { return 0x100 + uint32_t(i); }

}  // namespace

TEST(RegistrantEndToEnd, AllThreeRegisterAndReportTheirLoad) {
  Network net;
  net.start_all();
  EXPECT_EQ(net.registrar().element_count(), 3u);
  EXPECT_EQ(net.registrar().pool_count(), 1u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(net.node(i).pe.state(), State::registered) << i;
    EXPECT_EQ(net.node(i).pe.stats().registered, 1u) << i;
  }
  // Least used: the least loaded first; each with the load it registered.
  auto order = net.registrar().resolve(kHandle);
  ASSERT_EQ(order.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(order[i].id, id_of(i));
    EXPECT_EQ(order[i].policy.load, (i + 1) * (kFullLoad / 10));
    EXPECT_EQ(order[i].home_server, 0x5eedu);
    EXPECT_EQ(order[i].user_transport.port, 4739 + i);
  }

  // The least loaded becomes the most loaded: the next re-registration says so.
  net.node(0).pe.set_load(kFullLoad / 10 * 9);
  net.run_until(kReregistration - 1);
  EXPECT_EQ(net.handlespace().at(id_of(0)).policy.load, kFullLoad / 10);
  net.run_until(kReregistration);
  EXPECT_EQ(net.handlespace().at(id_of(0)).policy.load, kFullLoad / 10 * 9);
  order = net.registrar().resolve(kHandle);
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order[0].id, id_of(1));
  EXPECT_EQ(order[2].id, id_of(0));

  // Keep-alives at 1, 2, 3, 4 and 5 s, all answered; then quiet to 4 more
  // re-registration rounds.
  EXPECT_EQ(net.registrar().stats().keep_alives_sent, 15u);
  EXPECT_EQ(net.registrar().stats().keep_alive_acks, 15u);
  EXPECT_EQ(net.registrar().stats().reregistrations, 3u);
  net.run_until(5 * kReregistration);
  EXPECT_EQ(net.registrar().element_count(), 3u);
  EXPECT_EQ(net.registrar().stats().reregistrations, 15u);
  EXPECT_EQ(net.registrar().stats().removed_keep_alive, 0u);
  EXPECT_EQ(net.registrar().stats().registrations_rejected, 0u);
  for (size_t i = 0; i < 3; ++i) {
    const RegistrantStats& s = net.node(i).pe.stats();
    EXPECT_EQ(s.registrations_sent, 6u) << i;
    EXPECT_EQ(s.registered, 6u) << i;
    EXPECT_EQ(s.keep_alives_answered, 25u) << i;
    EXPECT_EQ(s.ignored, 0u) << i;
    EXPECT_EQ(s.timeouts, 0u) << i;
  }
  EXPECT_EQ(net.connects(), 3u);
}

TEST(RegistrantEndToEnd, AKilledRegistrantIsRemovedByTheKeepAliveAudit) {
  Network net;
  net.start_all();
  net.run_until(2500);
  ASSERT_EQ(net.registrar().element_count(), 3u);
  const uint64_t killed_at = net.now();
  net.node(1).killed = true;
  // Its last answer was at 2 s: the keep-alive at 3 s goes unanswered and it
  // is removed at 4 s, within interval + timeout of its death.
  net.run_until(3999);
  EXPECT_TRUE(net.resolvable(id_of(1)));
  net.run_until(4000);
  EXPECT_LE(net.now(), killed_at + kKeepAliveInterval + kKeepAliveTimeout);
  EXPECT_FALSE(net.resolvable(id_of(1)));
  EXPECT_EQ(net.registrar().element_count(), 2u);
  EXPECT_EQ(net.registrar().stats().removed_keep_alive, 1u);
  // The others keep answering, and stay.
  net.run_until(30000);
  EXPECT_EQ(net.registrar().element_count(), 2u);
  EXPECT_TRUE(net.resolvable(id_of(0)));
  EXPECT_TRUE(net.resolvable(id_of(2)));
  EXPECT_EQ(net.registrar().stats().removed_keep_alive, 1u);
  EXPECT_EQ(net.registrar().stats().removed_expired, 0u);
}

TEST(RegistrantEndToEnd, AStoppedRegistrantIsGoneAtOnce) {
  Network net;
  net.start_all();
  net.run_until(1500);
  const uint64_t lost_before = net.registrar().stats().removed_association;
  net.node(2).pe.stop(net.now());
  net.deliver();
  EXPECT_EQ(net.node(2).pe.state(), State::stopped);
  EXPECT_FALSE(net.node(2).up);  // its disconnect was delivered
  EXPECT_FALSE(net.resolvable(id_of(2)));
  EXPECT_EQ(net.registrar().element_count(), 2u);
  EXPECT_EQ(net.registrar().stats().deregistrations, 1u);
  EXPECT_EQ(net.registrar().stats().removed_association, lost_before);  // not by the disconnect
  net.run_until(20000);
  EXPECT_EQ(net.registrar().element_count(), 2u);
  EXPECT_EQ(net.node(2).pe.stats().registrations_sent, 1u);
  EXPECT_EQ(net.connects(), 3u);
}

TEST(RegistrantEndToEnd, EveryRegistrantIsBackAfterARegistrarRestart) {
  Network net;
  net.start_all();
  net.run_until(2500);
  net.node(1).pe.set_load(kFullLoad / 2);  // reaches the new registrar with the next registration
  const uint64_t restart = net.now();
  net.restart_registrar();
  EXPECT_EQ(net.registrar().element_count(), 0u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(net.node(i).pe.state(), State::waiting) << i;
    EXPECT_EQ(net.node(i).pe.stats().associations_lost, 1u) << i;
  }
  net.run_until(restart + kReconnect - 1);
  EXPECT_EQ(net.registrar().element_count(), 0u);
  net.run_until(restart + kReconnect + 10);
  EXPECT_EQ(net.registrar().element_count(), 3u);
  const auto hs = net.handlespace();
  ASSERT_EQ(hs.size(), 3u);
  EXPECT_EQ(hs.at(id_of(1)).policy.load, kFullLoad / 2);
  EXPECT_EQ(hs.at(id_of(2)).policy.load, 3 * (kFullLoad / 10));
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(net.node(i).pe.state(), State::registered) << i;
    EXPECT_EQ(net.node(i).pe.stats().registered, 2u) << i;
  }
  EXPECT_EQ(net.registrar().stats().registrations, 3u);
  EXPECT_EQ(net.connects(), 6u);
  // And they stay, audited by the new registrar.
  net.run_until(restart + 20000);
  EXPECT_EQ(net.registrar().element_count(), 3u);
  EXPECT_EQ(net.registrar().stats().removed_keep_alive, 0u);
  EXPECT_GT(net.registrar().stats().keep_alive_acks, 0u);
}

TEST(RegistrantEndToEnd, OnlyTheLiveComeBackAfterARegistrarRestart) {
  Network net;
  net.start_all();
  net.run_until(1200);
  net.node(0).killed = true;
  net.node(2).pe.stop(net.now());
  net.deliver();
  ASSERT_EQ(net.node(2).pe.state(), State::stopped);
  net.run_until(3000);
  ASSERT_EQ(net.registrar().element_count(), 1u);  // the killed one was audited away
  const uint64_t restart = net.now();
  net.restart_registrar();
  net.run_until(restart + kReconnect + 10);
  const auto hs = net.handlespace();
  ASSERT_EQ(hs.size(), 1u);
  EXPECT_TRUE(hs.contains(id_of(1)));
  EXPECT_EQ(net.node(2).pe.state(), State::stopped);
  EXPECT_EQ(net.node(2).pe.stats().associations_lost, 0u);
  net.run_until(restart + 20000);
  EXPECT_EQ(net.registrar().element_count(), 1u);
}

TEST(RegistrantEndToEnd, AnAssociationAbortedByTheRegistrarIsRecoveredFrom) {
  // Garbage on element 0's association (as from a broken peer) until the
  // registrar aborts it: the element is removed, hunts, and registers again.
  Network net;
  net.start_all();
  net.run_until(1500);
  const uint64_t assoc = net.node(0).association;
  const uint32_t limit = Network::registrar_config().max_bad_messages;
  for (uint32_t i = 0; i < limit; ++i)
    net.registrar().received(assoc, std::vector<uint8_t>{0x01, 0x00, 0x00, 0x05, 0xff}, net.now());
  EXPECT_EQ(net.registrar().stats().associations_aborted, 1u);
  EXPECT_FALSE(net.resolvable(id_of(0)));
  net.deliver();
  EXPECT_FALSE(net.node(0).up);
  EXPECT_EQ(net.node(0).pe.state(), State::waiting);
  EXPECT_EQ(net.node(0).pe.stats().associations_lost, 1u);
  EXPECT_EQ(net.node(0).pe.stats().ignored, 0u);  // unparsable: dropped, no ASAP_ERROR
  const uint64_t lost = net.now();
  net.run_until(lost + kReconnect - 1);
  EXPECT_FALSE(net.resolvable(id_of(0)));
  net.run_until(lost + kReconnect);
  EXPECT_TRUE(net.resolvable(id_of(0)));
  EXPECT_NE(net.node(0).association, assoc);
  EXPECT_EQ(net.registrar().element_count(), 3u);
  EXPECT_EQ(net.registrar().stats().registrations, 4u);
  EXPECT_EQ(net.registrar().stats().removed_association, 1u);
}
