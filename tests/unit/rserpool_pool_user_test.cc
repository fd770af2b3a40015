// The pool user's ASAP state machine (PoolUser) with a simulated clock and no
// sockets: resolution at the home registrar, T1 retransmissions and the hunt,
// association loss, the stale cache, answers without elements, selection by the
// pool's policy, ENDPOINT_UNREACHABLE; then against the registrar's state
// machine through the real codec: a reported element is removed after enough
// reports, and selection follows the loads the elements registered.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "rserpool/codec.h"
#include "rserpool/pool_user.h"
#include "rserpool/registrar.h"
#include "rserpool_wire.h"

using namespace poolflow::rserpool;

namespace {

using Kind = PoolUserAction::Kind;
using State = PoolUser::State;

const std::string kHandle = "ipfix-collectors";

PoolElement element(uint32_t id, PolicyType policy = PolicyType::round_robin, uint32_t load = 0,
                    uint32_t weight = 0) {
  PoolElement e;
  e.id = id;
  e.registration_life_ms = 30000;
  e.user_transport.kind = TransportKind::sctp;
  e.user_transport.port = static_cast<uint16_t>(4700 + id);
  e.user_transport.addresses.push_back(*Address::parse("127.0.0.1"));
  e.policy.type = uint32_t(policy);
  e.policy.load = load;
  e.policy.weight = weight;
  return e;
}

// Values unlike the defaults, so that each time asserted comes from the config.
PoolUserConfig user_config(size_t registrars = 1) {
  PoolUserConfig c;
  c.handle = kHandle;
  c.registrars = registrars;
  c.request_timeout_ms = 1500;
  c.request_retransmits = 2;
  c.reconnect_interval_ms = 600;
  c.stale_cache_ms = 9000;
  c.retry_interval_ms = 800;
  c.seed = 7;
  return c;
}

std::vector<uint8_t> answer(const std::vector<PoolElement>& elements,
                            const std::string& handle = kHandle) {
  Message m = Message::asap(AsapType::handle_resolution_response);
  m.pool_handle = handle;
  m.elements = elements;
  if (elements.empty()) m.errors.push_back(make_cause(Cause::unknown_pool_handle));
  return encode(m);
}

std::vector<PoolUserAction> sends(std::vector<PoolUserAction> actions) {
  std::erase_if(actions, [](const PoolUserAction& a) { return a.kind != Kind::send; });
  return actions;
}

using poolflow::rserpool::testing::wire;

class PoolUserTest : public ::testing::Test {
 protected:
  uint64_t now = 1'000'000;

  // Started, associated with registrar 0 and answered with `elements`.
  void resolved(PoolUser& u, const std::vector<PoolElement>& elements) {
    u.start(now);
    u.take_actions();
    u.association_up(now);
    u.take_actions();
    u.received(answer(elements), now);
  }
};

// ---- 1. resolution ---------------------------------------------------------

TEST_F(PoolUserTest, ResolvesAtTheFirstRegistrarAndCachesTheAnswerInIdOrder) {
  PoolUser u(user_config(2));
  u.start(now);
  auto a = u.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::connect);
  EXPECT_EQ(a[0].registrar, 0u);
  EXPECT_EQ(u.state(), State::connecting);

  u.association_up(now);
  a = u.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::send);
  const Message request = wire(a[0].message);
  EXPECT_TRUE(request.is(AsapType::handle_resolution));
  EXPECT_EQ(request.pool_handle, kHandle);
  EXPECT_EQ(u.stats().resolutions_sent, 1u);

  const uint64_t version = u.cache_version();
  u.received(answer({element(3), element(1), element(2)}), now);
  ASSERT_EQ(u.cache().size(), 3u);
  EXPECT_EQ(u.cache()[0].id, 1u);
  EXPECT_EQ(u.cache()[2].id, 3u);
  EXPECT_NE(u.cache_version(), version);
  EXPECT_EQ(u.home(), std::optional<size_t>(0));
  EXPECT_EQ(u.stats().resolved, 1u);
  EXPECT_EQ(u.stats().rehomed, 1u);
}

TEST_F(PoolUserTest, AnswersForAnotherHandleOrMalformedOnesAreIgnored) {
  PoolUser u(user_config());
  u.start(now);
  u.association_up(now);
  u.received(answer({element(1)}, "other-pool"), now);
  const std::vector<uint8_t> garbage{1, 2, 3};
  u.received(garbage, now);
  EXPECT_TRUE(u.cache().empty());
  EXPECT_EQ(u.stats().ignored, 2u);
  EXPECT_FALSE(u.home());
}

TEST_F(PoolUserTest, AStaleCacheIsResolvedAgainAndKeptMeanwhile) {
  PoolUser u(user_config());
  resolved(u, {element(1), element(2)});
  EXPECT_EQ(u.next_deadline(), now + 9000);
  u.advance(now + 8999);
  EXPECT_TRUE(u.take_actions().empty());
  now += 9000;
  u.advance(now);
  auto a = u.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_TRUE(wire(a[0].message).is(AsapType::handle_resolution));
  EXPECT_EQ(u.cache().size(), 2u);  // still usable while the answer is on its way
  const uint64_t version = u.cache_version();
  u.received(answer({element(1), element(2)}), now);
  EXPECT_EQ(u.cache_version(), version);              // same answer, no news
  u.received(answer({element(2), element(4)}), now);  // not waiting any more: ignored
  EXPECT_EQ(u.cache().size(), 2u);
  EXPECT_EQ(u.cache()[0].id, 1u);
}

TEST_F(PoolUserTest, AnAnswerWithoutElementsIsAskedAgainSoon) {
  PoolUser u(user_config());
  resolved(u, {});
  EXPECT_TRUE(u.cache().empty());
  EXPECT_EQ(u.stats().empty, 1u);
  EXPECT_EQ(u.home(), std::optional<size_t>(0));  // it answered: it is home
  EXPECT_EQ(u.next_deadline(), now + 800);
  now += 800;
  u.advance(now);
  ASSERT_EQ(sends(u.take_actions()).size(), 1u);
  u.received(answer({element(5)}), now);
  ASSERT_EQ(u.cache().size(), 1u);
  EXPECT_EQ(u.next_deadline(), now + 9000);
}

// ---- 2. T1, retransmissions, the hunt ----------------------------------------

TEST_F(PoolUserTest, UnansweredRequestsAreRetransmittedThenTheNextRegistrarIsTried) {
  PoolUser u(user_config(2));
  u.start(now);
  u.take_actions();
  u.association_up(now);
  ASSERT_EQ(u.take_actions().size(), 1u);
  for (int retransmission = 1; retransmission <= 2; ++retransmission) {
    u.advance(now + 1499);
    EXPECT_TRUE(u.take_actions().empty());
    now += 1500;
    u.advance(now);
    auto a = u.take_actions();
    ASSERT_EQ(a.size(), 1u) << retransmission;
    EXPECT_TRUE(wire(a[0].message).is(AsapType::handle_resolution));
  }
  EXPECT_EQ(u.stats().resolutions_sent, 3u);
  now += 1500;
  u.advance(now);
  auto a = u.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::disconnect);
  EXPECT_EQ(a[0].registrar, 0u);
  EXPECT_EQ(u.stats().unanswered, 1u);
  EXPECT_EQ(u.state(), State::waiting);
  EXPECT_EQ(u.next_deadline(), now + 600);
  now += 600;
  u.advance(now);
  a = u.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::connect);
  EXPECT_EQ(a[0].registrar, 1u);
  u.association_up(now);
  u.take_actions();
  u.received(answer({element(1)}), now);
  EXPECT_EQ(u.home(), std::optional<size_t>(1));
}

TEST_F(PoolUserTest, AnAssociationThatNeverComesUpIsGivenUpAfterT1) {
  PoolUser u(user_config(3));
  u.start(now);
  u.take_actions();
  now += 1500;
  u.advance(now);
  auto a = u.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::disconnect);
  EXPECT_EQ(u.registrar(), 1u);
}

TEST_F(PoolUserTest, LosingTheHomeRegistrarRehomesAtTheNextAndWrapsAround) {
  PoolUser u(user_config(2));
  resolved(u, {element(1)});
  u.association_down(now);
  auto a = u.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::disconnect);
  EXPECT_EQ(u.stats().associations_lost, 1u);
  EXPECT_EQ(u.cache().size(), 1u);  // the collectors did not go with the registrar
  now += 600;
  u.advance(now);
  a = u.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].registrar, 1u);
  u.association_up(now);
  u.take_actions();
  u.received(answer({element(1)}), now);
  EXPECT_EQ(u.home(), std::optional<size_t>(1));
  EXPECT_EQ(u.stats().rehomed, 2u);
  u.association_down(now);
  u.take_actions();
  now += 600;
  u.advance(now);
  a = u.take_actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].registrar, 0u);
}

TEST_F(PoolUserTest, AnAnnouncedRegistrarJoinsTheHunt) {
  PoolUser u(user_config(1));
  EXPECT_EQ(u.add_registrar(), 1u);
  u.start(now);
  u.take_actions();
  u.association_down(now);
  now += 600;
  u.advance(now);
  const auto a = u.take_actions();
  ASSERT_EQ(a.size(), 2u);  // disconnect, then connect to the announced one
  EXPECT_EQ(a[1].kind, Kind::connect);
  EXPECT_EQ(a[1].registrar, 1u);
}

// ---- 3. unreachable elements -----------------------------------------------

TEST_F(PoolUserTest, AnUnreachableElementIsReportedDroppedAndResolvedAgain) {
  PoolUser u(user_config());
  resolved(u, {element(1), element(2)});
  u.unreachable(2, now);
  auto a = u.take_actions();
  ASSERT_EQ(a.size(), 2u);
  const Message report = wire(a[0].message);
  EXPECT_TRUE(report.is(AsapType::endpoint_unreachable));
  EXPECT_EQ(report.pool_handle, kHandle);
  EXPECT_EQ(report.pe_id, std::optional<uint32_t>(2));
  EXPECT_TRUE(wire(a[1].message).is(AsapType::handle_resolution));
  ASSERT_EQ(u.cache().size(), 1u);
  EXPECT_EQ(u.cache()[0].id, 1u);
  EXPECT_EQ(u.stats().reported_unreachable, 1u);

  // The registrar still lists it (one report is not enough there): it stays
  // out of the cache for a stale-cache time.
  u.received(answer({element(1), element(2)}), now);
  ASSERT_EQ(u.cache().size(), 1u);
  now += 9000;
  u.advance(now);
  u.take_actions();
  u.received(answer({element(1), element(2)}), now);
  EXPECT_EQ(u.cache().size(), 2u);
}

TEST_F(PoolUserTest, ReportsWithoutAnAssociationGoToTheNextHomeRegistrar) {
  PoolUser u(user_config(2));
  resolved(u, {element(1), element(2)});
  u.association_down(now);
  u.take_actions();
  u.unreachable(1, now);
  u.unreachable(1, now);  // once is enough
  EXPECT_TRUE(u.take_actions().empty());
  now += 600;
  u.advance(now);
  u.take_actions();
  u.association_up(now);
  const auto a = sends(u.take_actions());
  ASSERT_EQ(a.size(), 2u);
  EXPECT_TRUE(wire(a[0].message).is(AsapType::endpoint_unreachable));
  EXPECT_EQ(a[0].registrar, 1u);
  EXPECT_TRUE(wire(a[1].message).is(AsapType::handle_resolution));
}

// ---- 4. selection by the pool's policy --------------------------------------

TEST_F(PoolUserTest, RoundRobinGoesRoundTheCacheSkippingElementsInUse) {
  PoolUser u(user_config());
  resolved(u, {element(3), element(1), element(2)});
  EXPECT_EQ(u.policy(), PolicyType::round_robin);
  std::vector<uint32_t> picked;
  for (int i = 0; i < 6; ++i) picked.push_back(u.select({})->id);
  EXPECT_EQ(picked, (std::vector<uint32_t>{1, 2, 3, 1, 2, 3}));
  const std::vector<uint32_t> in_use{1, 3};
  for (int i = 0; i < 3; ++i) EXPECT_EQ(u.select(in_use)->id, 2u);
  const std::vector<uint32_t> all{1, 2, 3};
  EXPECT_FALSE(u.select(all));
  EXPECT_EQ(u.stats().selected, 9u);
}

TEST_F(PoolUserTest, WeightedRoundRobinSelectsInProportionToTheWeights) {
  PoolUser u(user_config());
  resolved(u, {element(1, PolicyType::weighted_round_robin, 0, 1),
               element(2, PolicyType::weighted_round_robin, 0, 2),
               element(3, PolicyType::weighted_round_robin, 0, 3)});
  std::map<uint32_t, int> count;
  for (int i = 0; i < 600; ++i) ++count[u.select({})->id];
  EXPECT_EQ(count[1], 100);
  EXPECT_EQ(count[2], 200);
  EXPECT_EQ(count[3], 300);
}

TEST_F(PoolUserTest, LeastUsedWithDegradationSpreadsUntilTheNextLoadReport) {
  auto pe = [](uint32_t id, uint32_t load) {
    PoolElement e = element(id, PolicyType::least_used_degradation, load);
    e.policy.load_dpf = kFullLoad / 10;  // +10 % per selection
    return e;
  };
  PoolUser u(user_config());
  resolved(u, {pe(1, kFullLoad / 10), pe(2, kFullLoad / 2)});
  // 10 % then 20 %, 30 %, 40 % (tied with nothing below 50 %), then 50 % ties.
  std::vector<uint32_t> picked;
  for (int i = 0; i < 4; ++i) picked.push_back(u.select({})->id);
  EXPECT_EQ(picked, (std::vector<uint32_t>{1, 1, 1, 1}));
  EXPECT_EQ(u.select({})->id, 1u);  // 50 % against 50 %: the lower position leads
  EXPECT_EQ(u.select({})->id, 2u);  // 60 % against 50 %
  // A new load report starts over; an unchanged one does not.
  now += 9000;
  u.advance(now);
  u.take_actions();
  u.received(answer({pe(1, kFullLoad / 10), pe(2, kFullLoad / 5)}), now);
  EXPECT_EQ(u.select({})->id, 2u);  // 1 is still at 10 % + 5 x 10 %; 2 reset to 20 %
}

// ---- 5. against the registrar's state machine --------------------------------

class PoolUserAndRegistrar : public PoolUserTest {
 protected:
  Registrar registrar{[] {
                        RegistrarConfig c;
                        c.allow_loopback = true;
                        c.max_bad_pe_reports = 2;
                        return c;
                      }(),
                      1};
  std::vector<Message> to_user;

  void deliver(PoolUser& u, uint64_t association) {
    for (PoolUserAction& a : u.take_actions())
      if (a.kind == Kind::send) registrar.received(association, encode(a.message), now);
    for (Outgoing& o : registrar.take_outgoing())
      if (o.association == association) u.received(encode(o.message), now);
  }
  void register_element(uint64_t association, const PoolElement& e) {
    ASSERT_TRUE(registrar.association_up(association, *Address::parse("127.0.0.1"), now));
    registrar.received(association, encode(Message::registration(kHandle, e)), now);
    registrar.take_outgoing();
  }
};

TEST_F(PoolUserAndRegistrar, LeastUsedPicksTheLeastLoadedRegisteredElement) {
  register_element(11, element(1, PolicyType::least_used, kFullLoad / 2));
  register_element(12, element(2, PolicyType::least_used, kFullLoad / 5));
  register_element(13, element(3, PolicyType::least_used, kFullLoad / 4 * 3));
  PoolUser u(user_config());
  u.start(now);
  u.take_actions();
  ASSERT_TRUE(registrar.association_up(1, *Address::parse("127.0.0.1"), now));
  u.association_up(now);
  deliver(u, 1);
  ASSERT_EQ(u.cache().size(), 3u);
  EXPECT_EQ(u.policy(), PolicyType::least_used);
  EXPECT_EQ(u.select({})->id, 2u);
  const std::vector<uint32_t> in_use{2};
  EXPECT_EQ(u.select(in_use)->id, 1u);
}

TEST_F(PoolUserAndRegistrar, ReportsFromTwoUsersRemoveTheElementAtTheRegistrar) {
  register_element(11, element(1));
  register_element(12, element(2));
  PoolUser first(user_config()), second(user_config());
  for (auto [u, association] : {std::pair{&first, 1}, std::pair{&second, 2}}) {
    u->start(now);
    u->take_actions();
    ASSERT_TRUE(registrar.association_up(association, *Address::parse("127.0.0.1"), now));
    u->association_up(now);
    deliver(*u, association);
    ASSERT_EQ(u->cache().size(), 2u);
  }
  first.unreachable(2, now);
  deliver(first, 1);
  EXPECT_EQ(registrar.resolve(kHandle).size(), 2u);  // one report of two
  second.unreachable(2, now);
  deliver(second, 2);
  ASSERT_EQ(registrar.resolve(kHandle).size(), 1u);
  EXPECT_EQ(second.cache().size(), 1u);
  EXPECT_EQ(second.cache()[0].id, 1u);
}

}  // namespace
