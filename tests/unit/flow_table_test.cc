// Flow table: accounting, full-key comparison, expiry by reason, eviction.
#include <gtest/gtest.h>

#include <vector>

#include "meter/flow_table.h"

namespace poolflow::meter {
namespace {

ParsedPacket packet(uint16_t src_port, uint32_t octets = 100, uint8_t tcp_flags = 0) {
  ParsedPacket p;
  p.key.ip_version = 4;
  p.key.protocol = 6;
  p.key.src_addr[0] = 10;
  p.key.dst_addr[0] = 192;
  p.key.src_port = src_port;
  p.key.dst_port = 80;
  p.ip_octets = octets;
  p.tcp_flags = tcp_flags;
  return p;
}

struct Collect {
  std::vector<FlowRecord>* out;
  void operator()(const FlowRecord& r) const { out->push_back(r); }
};

class FlowTableTest : public ::testing::Test {
 protected:
  FlowTable::Accounted account(FlowTable& t, const ParsedPacket& p, uint64_t now) {
    return t.account(p, FlowTable::hash(p.key), now, timeouts, Collect{&ended});
  }
  FlowTimeouts timeouts{.idle_ms = 1000, .active_ms = 10000, .tcp_end_grace_ms = 200};
  std::vector<FlowRecord> ended;
};

TEST_F(FlowTableTest, CapacityRoundsUpToBuckets) {
  EXPECT_EQ(FlowTable(100).capacity(), 128u);
  EXPECT_EQ(FlowTable(1).capacity(), 16u);
}

TEST_F(FlowTableTest, PacketsOfOneFlowAddUp) {
  FlowTable t(1024);
  EXPECT_EQ(account(t, packet(1, 100, 0x02), 5000), FlowTable::Accounted::created);
  EXPECT_EQ(account(t, packet(1, 60, 0x10), 5100), FlowTable::Accounted::updated);
  EXPECT_EQ(account(t, packet(2, 40), 5200), FlowTable::Accounted::created);
  EXPECT_EQ(t.size(), 2u);
  t.flush_all(FlowEndReason::forced_end, Collect{&ended});
  ASSERT_EQ(ended.size(), 2u);
  const FlowRecord& a = ended[0].key.src_port == 1 ? ended[0] : ended[1];
  EXPECT_EQ(a.packets, 2u);
  EXPECT_EQ(a.octets, 160u);
  EXPECT_EQ(a.tcp_flags, 0x12);
  EXPECT_EQ(a.first_ms, 5000u);
  EXPECT_EQ(a.last_ms, 5100u);
  EXPECT_EQ(a.end_reason, FlowEndReason::forced_end);
  EXPECT_EQ(t.size(), 0u);
}

TEST_F(FlowTableTest, KeysDifferingInAnyFieldStaySeparate) {
  FlowTable t(1024);
  ParsedPacket base = packet(1);
  std::vector<ParsedPacket> variants(7, base);
  variants[1].key.dst_port = 81;
  variants[2].key.vlan_id = 5;
  variants[3].key.ingress_port = 1;
  variants[4].key.protocol = 17;
  variants[5].key.dst_addr[3] = 9;
  variants[6].key.ip_version = 6;
  for (const auto& v : variants) account(t, v, 1000);
  EXPECT_EQ(t.size(), variants.size());
}

TEST_F(FlowTableTest, IdleFlowEndsInExpirySlice) {
  FlowTable t(64);
  account(t, packet(1), 1000);
  t.expire_slice(1999, t.capacity(), timeouts, Collect{&ended});
  EXPECT_TRUE(ended.empty());
  t.expire_slice(2000, t.capacity(), timeouts, Collect{&ended});
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].end_reason, FlowEndReason::idle_timeout);
  EXPECT_EQ(t.size(), 0u);
}

TEST_F(FlowTableTest, ActiveTimeoutEndsBusyFlow) {
  FlowTable t(64);
  for (uint64_t now = 0; now < 10000; now += 500) account(t, packet(1), now);
  t.expire_slice(9999, t.capacity(), timeouts, Collect{&ended});
  EXPECT_TRUE(ended.empty());
  t.expire_slice(10000, t.capacity(), timeouts, Collect{&ended});
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].end_reason, FlowEndReason::active_timeout);
  EXPECT_EQ(ended[0].packets, 20u);
}

TEST_F(FlowTableTest, PacketAtTheActiveTimeoutStartsTheNextRecord) {
  FlowTable t(64);
  for (uint64_t now = 0; now <= 10000; now += 500) account(t, packet(1), now);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].end_reason, FlowEndReason::active_timeout);
  EXPECT_EQ(ended[0].packets, 20u);
  EXPECT_EQ(t.size(), 1u);
}

TEST_F(FlowTableTest, TcpFinEndsAfterGrace) {
  FlowTable t(64);
  account(t, packet(1, 100, 0x02), 0);
  account(t, packet(1, 100, 0x11), 100);  // FIN
  account(t, packet(1, 100, 0x10), 150);  // final ACK within grace
  t.expire_slice(349, t.capacity(), timeouts, Collect{&ended});
  EXPECT_TRUE(ended.empty());
  t.expire_slice(350, t.capacity(), timeouts, Collect{&ended});
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].end_reason, FlowEndReason::end_of_flow);
  EXPECT_EQ(ended[0].packets, 3u);
}

TEST_F(FlowTableTest, ExpiredFlowMetAgainIsExportedBeforeTheNewOne) {
  FlowTable t(64);
  account(t, packet(1, 100), 0);
  EXPECT_EQ(account(t, packet(1, 50), 5000), FlowTable::Accounted::created_after_expiry);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].end_reason, FlowEndReason::idle_timeout);
  EXPECT_EQ(ended[0].octets, 100u);
  t.flush_all(FlowEndReason::forced_end, Collect{&ended});
  ASSERT_EQ(ended.size(), 2u);
  EXPECT_EQ(ended[1].octets, 50u);
  EXPECT_EQ(ended[1].first_ms, 5000u);
}

TEST_F(FlowTableTest, FullTableEvictsLeastRecentlySeen) {
  FlowTable t(16);  // two buckets of 8: every key has both as candidates
  for (uint16_t port = 1; port <= 16; ++port) account(t, packet(port), 100 + port);
  EXPECT_EQ(t.size(), 16u);
  EXPECT_TRUE(ended.empty());
  account(t, packet(1), 200);  // port 1 is now the most recent
  EXPECT_EQ(account(t, packet(99), 300), FlowTable::Accounted::created_after_eviction);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].end_reason, FlowEndReason::lack_of_resources);
  EXPECT_EQ(ended[0].key.src_port, 2);
  EXPECT_EQ(t.size(), 16u);
}

TEST_F(FlowTableTest, SlicesCoverTheWholeTable) {
  FlowTable t(1024);
  for (uint16_t port = 1; port <= 500; ++port) account(t, packet(port), 0);
  for (uint32_t i = 0; i < t.capacity() / 64; ++i)
    t.expire_slice(1000, 64, timeouts, Collect{&ended});
  EXPECT_EQ(ended.size(), 500u);
  EXPECT_EQ(t.size(), 0u);
}

}  // namespace
}  // namespace poolflow::meter
