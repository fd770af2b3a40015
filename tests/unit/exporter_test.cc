// Exporters over real transports: a file, a TCP peer that never reads,
// and an SCTP association (usrsctp, UDP encapsulation on 127.0.0.1) to the
// collector's own SCTP listener and decoder, all in this process.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <thread>

#include "collector/collector.h"
#include "collector/file_output.h"
#include "collector/merge.h"
#include "export/aggregator.h"
#include "export/exporter.h"
#include "ipfix/flow_templates.h"
#include "ipfix/message_reader.h"
#include "poolflow/byte_order.h"
#include "poolflow/listener.h"
#include "transport/sctp/sctp_transport.h"
#include "transport/sctp/usrsctp_stack.h"

namespace poolflow::exporter {
namespace {

constexpr uint8_t kTcp = 6, kUdp = 17;

FlowRecord flow(uint32_t n, uint8_t protocol) {
  FlowRecord r;
  r.key.ip_version = 4;
  r.key.protocol = protocol;
  r.key.src_addr[0] = 10;
  r.key.src_addr[3] = static_cast<uint8_t>(n);
  r.key.src_port = static_cast<uint16_t>(n);
  r.packets = n + 1;
  r.octets = 100 * (n + 1);
  return r;
}

struct Message {
  uint32_t sequence;
  uint32_t records;
  uint32_t templates;
};

// Splits an RFC 5655 file into messages and decodes each.
std::vector<Message> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::vector<uint8_t> data{std::istreambuf_iterator<char>(in), {}};
  ipfix::MessageReader reader{ipfix::DecoderLimits{}};
  ipfix::TemplateStore store;
  std::vector<Message> messages;
  for (size_t offset = 0; offset + 16 <= data.size();) {
    const uint16_t length = load_be16(&data[offset + 2]);
    const auto r = reader.decode({&data[offset], length}, store, nullptr);
    EXPECT_FALSE(r.discarded);
    messages.push_back({r.header.sequence, r.data_records, r.templates_added});
    offset += length;
  }
  return messages;
}

std::string temp_path(const char* name) {
  return std::string(::testing::TempDir()) + "/" + name + std::to_string(::getpid());
}

TEST(Exporter, ReplacedTransportStartsANewSessionWithTemplates) {
  const std::string a = temp_path("first.ipfix"), b = temp_path("second.ipfix");
  Exporter exporter(open_transport("file:" + a), ExporterConfig{});
  for (uint32_t i = 0; i < 10; ++i) exporter.add(flow(i, i % 2 ? kTcp : kUdp), 1);
  exporter.flush(1);
  // As the control core would: hand over another collector's transport.
  exporter.replace_transport(open_transport("file:" + b));
  for (uint32_t i = 0; i < 5; ++i) exporter.add(flow(i, kTcp), 2);
  exporter.flush(2);
  EXPECT_EQ(exporter.transport().name(), "file:" + b);
  EXPECT_EQ(exporter.stats().transport_sessions.get(), 2u);
  EXPECT_EQ(exporter.stats().records_sent.get(), 15u);

  const auto first = read_file(a);
  ASSERT_GE(first.size(), 2u);
  const size_t template_count = ipfix::flow_templates().size();
  EXPECT_EQ(first[0].templates, template_count);
  const auto second = read_file(b);
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[0].templates, template_count)
      << "a new transport session starts with its templates";
  EXPECT_EQ(second[0].sequence, 0u);
  EXPECT_EQ(second[1].sequence, 0u) << "and with sequence numbers from zero";
  EXPECT_EQ(second[1].records, 5u);
  std::remove(a.c_str());
  std::remove(b.c_str());
}

// A loopback TCP listener with a small receive buffer (a peer that takes
// little); `where` is "tcp:127.0.0.1:PORT".
void small_tcp_listener(int& listener, std::string& where) {
  listener = ::socket(AF_INET, SOCK_STREAM, 0);
  const int small = 4096;
  ::setsockopt(listener, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  where = "tcp:127.0.0.1:" + std::to_string(ntohs(address.sin_port));
}

TEST(Exporter, PeerThatNeverReadsNeitherBlocksNorGrowsTheQueue) {
  int listener = -1;
  std::string where;
  ASSERT_NO_FATAL_FAILURE(small_tcp_listener(listener, where));

  TransportOptions options;
  options.tcp.send_buffer_kib = 64;
  ExporterConfig config;
  config.send_queue_bytes = 256 * 1024;
  Exporter exporter(open_transport(where, options), config);
  const auto started = std::chrono::steady_clock::now();
  constexpr uint32_t kRecords = 200000;  // ~11 MB of records, the peer takes a few hundred KB
  for (uint32_t i = 0; i < kRecords; ++i) exporter.add(flow(i, kTcp), 1);
  exporter.flush(1);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const ExportStats& s = exporter.stats();
  EXPECT_LT(seconds, 5.0) << "the aggregation thread must never wait on the network";
  EXPECT_LE(exporter.queued_bytes(), config.send_queue_bytes);
  EXPECT_GT(s.records_not_sent.get(), kRecords / 2);
  EXPECT_EQ(s.reliable_records_not_sent.get(), s.records_not_sent.get())
      << "over TCP every record is reliable, and its loss is counted as such";
  EXPECT_GT(s.records_sent.get(), 0u);
  EXPECT_LE(s.records_sent.get() + s.records_not_sent.get(), kRecords);
  ::close(listener);
}

// A message the kernel took only part of is held, not sent: it counts as sent
// once its last byte is written, and as not sent (with its records) when the
// connection is lost first.
TEST(TcpTransport, APartlyWrittenMessageCountsByItsOutcome) {
  int listener = -1;
  std::string where;
  ASSERT_NO_FATAL_FAILURE(small_tcp_listener(listener, where));
  TransportOptions options;
  options.tcp.send_buffer_kib = 16;
  auto transport = open_transport(where, options);
  const int peer = ::accept(listener, nullptr, nullptr);
  ASSERT_GE(peer, 0);

  const std::vector<uint8_t> message(1499, 0);  // odd-sized, so that the buffer fills mid-message
  MessageInfo info;
  info.records = 7;
  info.packets = 70;
  info.octets = 7000;
  SendResult result = SendResult::sent;
  for (int i = 0; i < 100000 && result == SendResult::sent; ++i)
    result = transport->send(message, info);
  ASSERT_EQ(result, SendResult::held) << "the send buffer filled in the middle of a message";
  EXPECT_EQ(transport->held_outcome().sent_messages, 0u);
  EXPECT_EQ(transport->send(message, info), SendResult::would_block) << "its tail goes first";

  const linger reset{1, 0};  // unread data and linger 0: the peer resets the connection
  ::setsockopt(peer, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  ::close(peer);
  for (int i = 0; i < 200 && transport->flush(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const HeldOutcome o = transport->held_outcome();
  EXPECT_EQ(o.sent_messages, 0u);
  EXPECT_EQ(o.dropped_messages, 1u);
  EXPECT_EQ(o.dropped_records, 7u);
  EXPECT_EQ(o.dropped_packets, 70u);
  EXPECT_EQ(o.dropped_reliable_records, 7u);
  EXPECT_NE(o.first_dropped_ms, 0u);
  ::close(listener);
}

// Keeps what it is given; while `refusing`, loses (SendResult::failed) every
// message of flow records, as a transport without a session does.
class RecordingTransport : public Transport {
 public:
  SendResult send(std::span<const uint8_t> message, const MessageInfo&) override {
    const uint16_t first_set = message.size() >= 20 ? load_be16(&message[16]) : 0;
    if (refusing && first_set >= ipfix::kIPv4FlowTemplateId &&
        first_set < ipfix::kReliabilityTemplateId)
      return SendResult::failed;
    messages.emplace_back(message.begin(), message.end());
    return SendResult::sent;
  }
  bool flush() override { return true; }
  const std::string& name() const override { return name_; }

  bool refusing = false;
  std::vector<std::vector<uint8_t>> messages;

 private:
  std::string name_ = "recording";
};

struct NotSent {
  uint64_t flows, first_ms, last_ms;
};

// The Exporting Process Reliability records (template 265) among `messages`.
std::vector<NotSent> exporting_reliability_records(
    const std::vector<std::vector<uint8_t>>& messages) {
  std::vector<NotSent> records;
  for (const auto& m : messages)
    for (size_t set = 16; set + 4 <= m.size(); set += load_be16(&m[set + 2]))
      if (load_be16(&m[set]) == ipfix::kExportingReliabilityTemplateId)
        records.push_back(
            {load_be64(&m[set + 8]), load_be64(&m[set + 32]), load_be64(&m[set + 40])});
  return records;
}

uint64_t wall_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

TEST(Exporter, ExportingReliabilityRecordDatesTheRecordsNotSent) {
  auto owned = std::make_unique<RecordingTransport>();
  RecordingTransport& transport = *owned;
  ExporterConfig config;
  config.statistics_interval_ms = 1;
  Exporter exporter(std::move(owned), config);
  const auto export_some = [&](uint32_t first) {
    std::this_thread::sleep_for(std::chrono::milliseconds(3));  // statistics are due
    for (uint32_t i = first; i < first + 10; ++i) exporter.add(flow(i, kUdp), 1);
    exporter.flush(1);
  };
  export_some(0);
  auto records = exporting_reliability_records(transport.messages);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].flows, 0u);
  EXPECT_EQ(records[0].first_ms, 0u) << "nothing dropped yet: no time window";
  EXPECT_EQ(records[0].last_ms, 0u);

  const uint64_t before = wall_ms();
  transport.refusing = true;
  export_some(10);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  export_some(20);
  const uint64_t after = wall_ms();
  transport.refusing = false;
  export_some(30);
  records = exporting_reliability_records(transport.messages);
  ASSERT_GE(records.size(), 2u);
  const NotSent& last = records.back();
  EXPECT_EQ(last.flows, 20u);
  EXPECT_GE(last.first_ms, before);
  EXPECT_GE(last.last_ms, last.first_ms + 20) << "the first and the last drop, 20 ms apart";
  EXPECT_LE(last.last_ms, after);
}

// Holds every message (as the SCTP transport's ring does) until the test lets
// it send the oldest ones; abandon() drops the rest. Reports both. While
// `refuse` is set it takes nothing (would_block).
class HoldingTransport : public Transport {
 public:
  SendResult send(std::span<const uint8_t> message, const MessageInfo& info) override {
    EXPECT_NE(info.completed_ms, 0u) << "the exporter dates every message";
    if (refuse) return SendResult::would_block;
    held_.push_back({info, message.size()});
    return SendResult::held;
  }
  void hand_on(size_t messages) {
    for (; messages != 0 && !held_.empty(); --messages) {
      outcome_.sent_messages += 1;
      outcome_.sent_bytes += held_.front().bytes;
      outcome_.sent_records += held_.front().info.records;
      held_.pop_front();
    }
  }
  void abandon() override {
    for (const Held& h : held_) {
      outcome_.dropped_messages += 1;
      outcome_.dropped_records += h.info.records;
      outcome_.dropped_packets += h.info.packets;
      outcome_.dropped_octets += h.info.octets;
      if (h.info.policy.kind == Reliability::reliable && !h.info.templates)
        outcome_.dropped_reliable_records += h.info.records;
      if (h.info.records == 0) continue;
      if (outcome_.first_dropped_ms == 0) outcome_.first_dropped_ms = wall_ms();
      outcome_.last_dropped_ms = wall_ms();
    }
    held_.clear();
  }
  bool flush() override { return true; }
  const std::string& name() const override { return name_; }
  HeldOutcome held_outcome() const override { return outcome_; }
  size_t holding() const { return held_.size(); }

  bool refuse = false;

 private:
  struct Held {
    MessageInfo info;
    size_t bytes;
  };
  std::string name_ = "holding";
  std::deque<Held> held_;
  HeldOutcome outcome_;
};

ExporterConfig small_messages() {
  ExporterConfig config;
  config.statistics_interval_ms = 0;
  config.max_message_length = 600;  // the templates fit; a dozen records a message
  return config;
}

// Messages a transport holds count as sent only once it hands them on, so the
// exported totals never go down; what it drops when abandoned counts as not
// sent, once, reliable records included.
TEST(Exporter, MessagesTheTransportHeldAreCountedByTheirOutcome) {
  auto owned = std::make_unique<HoldingTransport>();
  HoldingTransport& transport = *owned;
  Exporter exporter(std::move(owned), small_messages());
  for (uint32_t i = 0; i < 100; ++i) exporter.add(flow(i, kUdp), 1);
  exporter.flush(1);
  const ExportStats& s = exporter.stats();
  ASSERT_GT(transport.holding(), 5u);
  EXPECT_EQ(s.messages_sent.get(), 0u) << "held, not sent yet";
  EXPECT_EQ(s.records_sent.get(), 0u);
  transport.hand_on(5);  // the templates and four data messages
  exporter.flush(1);
  const uint64_t sent_early = s.records_sent.get();
  EXPECT_EQ(s.messages_sent.get(), 5u);
  EXPECT_GT(sent_early, 0u);
  EXPECT_LT(sent_early, 100u);
  const uint64_t messages_held = transport.holding();
  exporter.close(1);  // abandons what is still held
  EXPECT_EQ(s.records_sent.get(), sent_early) << "exported totals never go down";
  EXPECT_EQ(s.records_not_sent.get(), 100u - sent_early);
  EXPECT_EQ(s.messages_not_sent.get(), messages_held);
  EXPECT_EQ(s.reliable_records_not_sent.get(), 100u - sent_early) << "without streams, reliable";
  uint64_t packets = 0;
  for (uint32_t i = 0; i < 100; ++i) packets += flow(i, kUdp).packets;
  EXPECT_LT(s.packets_not_sent.get(), packets);
  EXPECT_GT(s.packets_not_sent.get(), 0u);
  exporter.flush(1);
  EXPECT_EQ(s.records_not_sent.get(), 100u - sent_early) << "counted once";
}

// A message first refused (queued in the exporter) and then held, and a
// transport replaced while it holds messages: each record is counted once.
TEST(Exporter, HeldAfterQueuedAndAbandonedOnReplacementCountOnce) {
  auto owned = std::make_unique<HoldingTransport>();
  HoldingTransport& first = *owned;
  Exporter exporter(std::move(owned), small_messages());
  first.refuse = true;
  for (uint32_t i = 0; i < 50; ++i) exporter.add(flow(i, kTcp), 1);
  exporter.flush(1);
  EXPECT_EQ(first.holding(), 0u) << "all queued in the exporter";
  first.refuse = false;
  exporter.flush(1);  // the queue drains into the transport: held
  const size_t held = first.holding();
  EXPECT_GT(held, 1u);
  first.hand_on(held / 2);
  const ExportStats& s = exporter.stats();
  exporter.replace_transport(std::make_unique<HoldingTransport>());
  for (uint32_t i = 50; i < 60; ++i) exporter.add(flow(i, kTcp), 2);
  exporter.flush(2);  // switches: the first transport is abandoned, its held dropped
  EXPECT_EQ(s.transport_sessions.get(), 2u);
  const uint64_t sent = s.records_sent.get();
  const uint64_t not_sent = s.records_not_sent.get();
  EXPECT_GT(sent, 0u);
  EXPECT_GT(not_sent, 0u);
  EXPECT_EQ(sent + not_sent, 50u) << "the first transport's records, each once";
  exporter.flush(2);
  EXPECT_EQ(s.records_sent.get() + s.records_not_sent.get(), 50u) << "nothing counted again";
}

TEST(Exporter, AwaitingSessionHoldsRecordsUntilItsFirstTransport) {
  const std::string path = temp_path("awaited.ipfix");
  Exporter exporter("pool:collectors", ExporterConfig{});
  EXPECT_TRUE(exporter.awaiting_transport());
  for (uint32_t i = 0; i < 100; ++i) exporter.add(flow(i, i % 2 ? kTcp : kUdp), 1);
  exporter.flush(1);
  exporter.flush(2);
  EXPECT_EQ(exporter.stats().records_sent.get(), 0u);
  EXPECT_EQ(exporter.stats().records_not_sent.get(), 0u) << "held, not dropped";
  // The control core reached a collector.
  exporter.replace_transport(open_transport("file:" + path));
  EXPECT_TRUE(exporter.awaiting_transport()) << "until the aggregation thread takes it";
  exporter.add(flow(100, kTcp), 3);
  exporter.flush(3);
  EXPECT_FALSE(exporter.awaiting_transport());
  EXPECT_EQ(exporter.stats().records_sent.get(), 101u);
  exporter.close(4);

  uint32_t records = 0;
  const auto messages = read_file(path);
  ASSERT_FALSE(messages.empty());
  EXPECT_EQ(messages[0].templates, ipfix::flow_templates().size()) << "templates first";
  for (const Message& m : messages) records += m.records;
  EXPECT_EQ(records, 101u) << "the held records and the new one, each once";
  std::remove(path.c_str());
}

TEST(Exporter, AwaitingBacklogIsBoundedAndItsOverflowCounted) {
  ExporterConfig config;
  config.send_queue_bytes = 10 * sizeof(FlowRecord);
  config.close_timeout_ms = 50;
  uint64_t packets = 0;
  {
    Exporter exporter("pool:collectors", config);
    for (uint32_t i = 0; i < 25; ++i) exporter.add(flow(i, kTcp), 1);
    for (uint32_t i = 10; i < 25; ++i) packets += flow(i, kTcp).packets;
    EXPECT_EQ(exporter.stats().records_not_sent.get(), 15u) << "beyond the bound";
    EXPECT_EQ(exporter.stats().packets_not_sent.get(), packets);
    EXPECT_EQ(exporter.stats().reliable_records_not_sent.get(), 15u) << "TCP flows: reliable";
    // Never reached a collector: the held ten are not sent either.
    exporter.close(2);
    EXPECT_EQ(exporter.stats().records_not_sent.get(), 25u);
    EXPECT_EQ(exporter.stats().records_sent.get(), 0u);
  }
}

TEST(Exporter, CloseWaitsForAFirstTransportOnItsWay) {
  // A capture played back in less time than the first association takes: the
  // control core hands the transport over while the aggregation thread closes.
  const std::string path = temp_path("late.ipfix");
  ExporterConfig config;
  config.close_timeout_ms = 5000;
  Exporter exporter("sctp:127.0.0.1:4739", config);
  for (uint32_t i = 0; i < 50; ++i) exporter.add(flow(i, kTcp), 1);
  std::thread control([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    exporter.replace_transport(open_transport("file:" + path));
  });
  exporter.close(2);
  control.join();
  EXPECT_EQ(exporter.stats().records_sent.get(), 50u);
  EXPECT_EQ(exporter.stats().records_not_sent.get(), 0u);
  uint32_t records = 0;
  for (const Message& m : read_file(path)) records += m.records;
  EXPECT_EQ(records, 50u);
  std::remove(path.c_str());
}

TEST(MeteringSnapshot, ReaderNeverSeesAHalfPublishedSnapshot) {
  // The control core publishes, the aggregation thread reads, without a lock.
  MeteringSnapshot snapshot;
  std::atomic<bool> done{false};
  std::atomic<uint64_t> reads{0};
  std::thread control([&] {
    for (uint64_t i = 1; i <= 200000; ++i) {
      snapshot.publish({i, i, i, i});
      // Half way, until the reader has read: a loaded host may start it late.
      if (i == 100000)
        while (reads.load() == 0) std::this_thread::yield();
    }
    done = true;
  });
  uint64_t torn = 0, last = 0, backwards = 0;
  while (!done.load()) {
    const MeteringReliability m = snapshot.read();
    reads.fetch_add(1);
    if (m.ignored_octets != m.ignored_packets || m.first_ignored_ms != m.ignored_packets ||
        m.last_ignored_ms != m.ignored_packets)
      ++torn;
    if (m.ignored_packets < last) ++backwards;
    last = m.ignored_packets;
  }
  control.join();
  EXPECT_GT(reads.load(), 0u);
  EXPECT_EQ(torn, 0u);
  EXPECT_EQ(backwards, 0u);
  EXPECT_EQ(snapshot.read().ignored_packets, 200000u);
}

std::vector<size_t> slots_per_member(const ShareTable& table, size_t members) {
  std::vector<size_t> slots(members);
  for (const auto& m : table.member) ++slots.at(m.load());
  return slots;
}

TEST(ShareTable, SlotsInProportionToTheWeights) {
  ShareTable table;
  const std::vector<uint64_t> weights{1, 2, 3};
  table.assign(weights);
  // 256 * (1, 2, 3) / 6 = 42.67, 85.33, 128: largest remainders round up the first.
  EXPECT_EQ(slots_per_member(table, 3), (std::vector<size_t>{43, 85, 128}));
  const std::vector<uint64_t> none{0, 0, 0, 0};
  table.assign(none);
  EXPECT_EQ(slots_per_member(table, 4), (std::vector<size_t>{64, 64, 64, 64})) << "all zero: equal";
  const std::vector<uint64_t> one_out{5, 0, 5};
  table.assign(one_out);
  EXPECT_EQ(slots_per_member(table, 3), (std::vector<size_t>{128, 0, 128}))
      << "a member without an element gets nothing";
  const std::vector<uint64_t> huge{UINT64_MAX, UINT64_MAX, 1};
  table.assign(huge);
  EXPECT_EQ(slots_per_member(table, 3), (std::vector<size_t>{128, 128, 0})) << "no overflow";
}

// A collector listening over SCTP in this process (one usrsctp stack per
// process: the listener and the exporters share its UDP encapsulation port).
struct InProcessCollector {
  explicit InProcessCollector(const std::string& where)
      : port(transport::sctp::start_usrsctp(0, false)),
        collector(collector::CollectorConfig{}, {}),
        listener(open_listener(where, listen_options(port), collector)) {}
  static ListenerOptions listen_options(uint16_t port) {
    ListenerOptions listen;
    listen.sctp_udp_port = port;
    return listen;
  }
  TransportOptions exporter_options() const {
    TransportOptions options;
    options.sctp.local_udp_port = port;
    options.sctp.remote_udp_port = port;
    return options;
  }
  uint16_t port;
  collector::Collector collector;
  std::unique_ptr<Listener> listener;
};

TEST(Exporter, SctpAssociationToTheCollectorInThisProcess) {
  InProcessCollector in_process("sctp:127.0.0.1:47391");
  collector::Collector& collector = in_process.collector;
  TransportOptions options = in_process.exporter_options();
  ExporterConfig config;
  config.tcp_flows = {Reliability::reliable, 0};
  config.other_flows = {Reliability::rtx, 2};
  config.close_timeout_ms = 20'000;  // a loaded machine must not turn a slow drain into loss
  {
    Exporter exporter(open_transport("sctp:127.0.0.1:47391", options), config);
    EXPECT_TRUE(exporter.transport().traits().streams);
    for (uint32_t i = 0; i < 3000; ++i) {
      exporter.add(flow(i, i % 3 ? kTcp : kUdp), 1);
      if (i % 500 == 0) exporter.flush(1);
    }
    exporter.close(1);
    EXPECT_EQ(exporter.stats().records_sent.get(), 3000u);
    EXPECT_EQ(exporter.stats().records_not_sent.get(), 0u);
  }
  // The association shuts down; wait (bounded) until the collector saw it all.
  for (int i = 0; i < 300 && collector.totals().records < 3000; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const collector::ExporterStats t = collector.totals();
  EXPECT_EQ(t.records, 3000u);
  EXPECT_EQ(t.lost_records, 0u);
  EXPECT_EQ(t.out_of_order, 0u);
  EXPECT_EQ(t.discarded_messages, 0u);
  // RFC 6526: on each data stream its class's flow templates (256-259 reliable,
  // 260-263 partial) and the options template announcing their reliability.
  const size_t flow_templates = ipfix::flow_templates().size();
  EXPECT_EQ(t.templates_added, 2 * (flow_templates + 1));
  EXPECT_EQ(t.options_records, 2 * flow_templates);
  EXPECT_NE(collector.report().find("sctp 127.0.0.1:"), std::string::npos);
}

// The replay buffer alone: serials, confirmation of ranges in any order, the
// oldest released only once confirmed, bounds by room and by age.
TEST(ReplayBuffer, ReleasesTheOldestOnlyOnceConfirmed) {
  ReplayBuffer buffer({.max_bytes = 1 << 20, .max_age_ms = 1000});
  for (uint32_t i = 0; i < 10; ++i) EXPECT_EQ(buffer.append(flow(i, kTcp), 100), i);
  buffer.confirm(5, 8);  // newer ones first (records replayed after them)
  EXPECT_EQ(buffer.first_serial(), 0u);
  EXPECT_EQ(buffer.size(), 10u);
  std::vector<uint64_t> left;
  buffer.for_each(0, 10, [&](const FlowRecord&, uint64_t s) { left.push_back(s); });
  EXPECT_EQ(left, (std::vector<uint64_t>{0, 1, 2, 3, 4, 8, 9})) << "confirmed ones are skipped";
  buffer.confirm(0, 5);
  EXPECT_EQ(buffer.first_serial(), 8u);
  EXPECT_EQ(buffer.stats().confirmed.get(), 8u);
  buffer.confirm(0, 100);  // beyond what it holds: only what it holds
  EXPECT_EQ(buffer.size(), 0u);
  EXPECT_EQ(buffer.append(flow(10, kTcp), 100), 10u);

  buffer.expire(1099);
  EXPECT_EQ(buffer.size(), 1u);
  buffer.expire(1100);
  EXPECT_EQ(buffer.size(), 0u);
  EXPECT_EQ(buffer.stats().evicted_old.get(), 1u);

  ReplayBuffer small({.max_bytes = 4096, .max_age_ms = 1000});
  for (uint32_t i = 0; i < 1000; ++i) small.append(flow(i, kTcp), 0);
  EXPECT_LE(small.bytes(), 4096u);
  EXPECT_EQ(small.next_serial(), 1000u);
  EXPECT_EQ(small.stats().evicted_full.get(), 1000u - small.size());
}

// Records SCTP-like (three streams) and the stream each message went on.
class StreamRecordingTransport : public Transport {
 public:
  SendResult send(std::span<const uint8_t> message, const MessageInfo& info) override {
    messages.emplace_back(message.begin(), message.end());
    streams.push_back(info.stream);
    replayable.push_back(info.replayable);
    return SendResult::sent;
  }
  bool flush() override { return true; }
  const std::string& name() const override { return name_; }
  TransportTraits traits() const override { return {.streams = true, .stream_count = 3}; }

  std::vector<std::vector<uint8_t>> messages;
  std::vector<uint16_t> streams;
  std::vector<bool> replayable;

 private:
  std::string name_ = "streams";
};

// Data records decoded from `messages` (one transport session): the template
// each came with and its packetDeltaCount (n + 1 for flow(n)); and where each
// message's sequence numbers ended, per stream.
struct Decoded {
  std::vector<std::pair<uint16_t, uint64_t>> records;
  std::vector<uint32_t> sequence_end;  ///< per message
};

Decoded decode_session(const StreamRecordingTransport& t) {
  struct Visitor : ipfix::RecordVisitor {
    std::vector<std::pair<uint16_t, uint64_t>>* out;
    void record(const ipfix::MessageHeader&, const ipfix::DecodedTemplate& tmpl,
                std::span<const uint8_t> record) override {
      if (tmpl.scope_fields != 0) return;
      size_t offset = 0;
      for (const ipfix::DecodedField& f : tmpl.fields) {
        if (f.element_id == 2 && f.enterprise == 0) {  // packetDeltaCount
          out->push_back({tmpl.id, load_be64(&record[offset])});
          return;
        }
        offset += f.length;
      }
    }
  } visitor;
  Decoded d;
  visitor.out = &d.records;
  ipfix::MessageReader reader{ipfix::DecoderLimits{}};
  ipfix::TemplateStore store;
  for (const auto& m : t.messages) {
    const auto r = reader.decode(m, store, &visitor);
    EXPECT_FALSE(r.discarded);
    EXPECT_TRUE(r.records_complete);
    d.sequence_end.push_back(r.header.sequence + r.data_records);
  }
  return d;
}

ExporterConfig replaying() {
  ExporterConfig config;
  config.max_message_length = 512;  // a few records per message
  config.tcp_flows = {Reliability::reliable, 0};
  config.other_flows = {Reliability::ttl, 500};
  config.statistics_interval_ms = 0;
  config.replay_buffer_bytes = 1 << 20;
  return config;
}

// What the collector of a transport session did not confirm goes again, and
// only that: as replayed records (their own templates) on the next session, and
// the best-effort class never.
TEST(Exporter, UnconfirmedReliableRecordsAreReplayedOnTheNextTransportSession) {
  auto owned = std::make_unique<StreamRecordingTransport>();
  StreamRecordingTransport& first = *owned;
  Exporter exporter(std::move(owned), replaying());
  EXPECT_TRUE(exporter.replays());
  for (uint32_t i = 0; i < 100; ++i) exporter.add(flow(i, i % 2 ? kTcp : kUdp), 1);
  exporter.flush(1);
  const Decoded sent = decode_session(first);
  ASSERT_EQ(sent.records.size(), 100u);
  // The collector confirms the reliable stream (1) up to the end of its third
  // data message: those records are stored.
  std::vector<size_t> data_on_1;
  for (size_t m = 0; m < first.messages.size(); ++m)
    if (first.streams[m] == 1 && first.replayable[m]) data_on_1.push_back(m);
  ASSERT_GE(data_on_1.size(), 4u);
  const uint32_t confirmed_to = sent.sequence_end[data_on_1[2]];
  exporter.confirm_stored(1, confirmed_to);
  const ReplayTotals after_confirm = exporter.replay_totals();
  EXPECT_GT(after_confirm.confirmed, 0u);
  EXPECT_EQ(after_confirm.held, 50u - after_confirm.confirmed);

  auto second_owned = std::make_unique<StreamRecordingTransport>();
  StreamRecordingTransport& second = *second_owned;
  exporter.replace_transport(std::move(second_owned));
  exporter.add(flow(100, kTcp), 2);
  exporter.add(flow(101, kUdp), 2);
  exporter.flush(2);
  const Decoded again = decode_session(second);
  std::multiset<uint64_t> replayed, fresh;
  for (const auto& [id, packets] : again.records) {
    if (id >= ipfix::kIPv4FlowTemplateId + ipfix::kReplayTemplateOffset)
      replayed.insert(packets);
    else
      fresh.insert(packets);
  }
  EXPECT_EQ(fresh, (std::multiset<uint64_t>{101, 102})) << "the new records, as usual";
  EXPECT_EQ(replayed.size(), after_confirm.held);
  for (const uint64_t p : replayed) {
    const uint32_t n = static_cast<uint32_t>(p - 1);
    EXPECT_EQ(n % 2, 1u) << "only TCP flows (the reliable class) are replayed";
  }
  EXPECT_EQ(exporter.replay_totals().replayed, after_confirm.held);
  EXPECT_EQ(exporter.stats().records_not_sent.get(), 0u);
  // Confirming everything of the new session empties the buffer.
  for (uint16_t stream = 0; stream < 3; ++stream)
    exporter.confirm_stored(stream, again.sequence_end.back() + 1000);
  EXPECT_EQ(exporter.replay_totals().held, 0u);
}

// Records replayed into a session that ends before they are confirmed are
// replayed again in the one after; a confirmation of the old session's
// numbers is not taken for the new one.
TEST(Exporter, ReplayedRecordsStayKeptUntilConfirmed) {
  auto owned = std::make_unique<StreamRecordingTransport>();
  Exporter exporter(std::move(owned), replaying());
  for (uint32_t i = 0; i < 40; ++i) exporter.add(flow(i, kTcp), 1);
  exporter.flush(1);
  exporter.replace_transport(std::make_unique<StreamRecordingTransport>());
  exporter.flush(2);
  EXPECT_EQ(exporter.replay_totals().replayed, 40u);
  auto third_owned = std::make_unique<StreamRecordingTransport>();
  StreamRecordingTransport& third = *third_owned;
  exporter.replace_transport(std::move(third_owned));
  exporter.flush(3);
  EXPECT_EQ(exporter.replay_totals().replayed, 80u);
  EXPECT_EQ(decode_session(third).records.size(), 40u);
  EXPECT_EQ(exporter.replay_totals().held, 40u);
}

// A replay goes in slices, behind the records of the new session: a
// confirmation of the new session's first messages covers those records and
// the replayed ones they carry, never the ones still to be replayed (found by
// the demo: one message mixed both, and its confirmation released them all).
TEST(Exporter, AConfirmationCoversOnlyWhatItsMessagesCarried) {
  auto owned = std::make_unique<StreamRecordingTransport>();
  ExporterConfig config = replaying();
  config.max_message_length = 1400;
  Exporter exporter(std::move(owned), config);
  for (uint32_t i = 0; i < 2000; ++i) exporter.add(flow(i, kTcp), 1);
  exporter.flush(1);
  for (uint32_t i = 2000; i < 2003; ++i) exporter.add(flow(i, kTcp), 1);  // being built
  auto second_owned = std::make_unique<StreamRecordingTransport>();
  StreamRecordingTransport& second = *second_owned;
  exporter.replace_transport(std::move(second_owned));
  exporter.flush(2);  // the switch, and the replay's first slice
  const ReplayTotals before = exporter.replay_totals();
  ASSERT_GT(before.replayed, 0u);
  ASSERT_LT(before.replayed, 2000u) << "the replay is meant to take several slices here";
  const Decoded d = decode_session(second);
  exporter.confirm_stored(1, d.sequence_end.back());
  const ReplayTotals after = exporter.replay_totals();
  EXPECT_EQ(d.records.size(), before.replayed + 3);
  // The 3 new ones are confirmed too, and leave once the replay before them is.
  EXPECT_EQ(after.held, 2003u - before.replayed)
      << "only the records the confirmed messages carried leave the buffer";
  // The rest goes out while the aggregation thread is idle, and is confirmed.
  for (int i = 0; i < 20 && exporter.replay_totals().replayed < 2000; ++i) exporter.send_queued(2);
  exporter.flush(2);
  EXPECT_EQ(exporter.replay_totals().replayed, 2000u);
  exporter.confirm_stored(1, decode_session(second).sequence_end.back());
  EXPECT_EQ(exporter.replay_totals().held, 0u);
  std::set<uint64_t> packets;
  for (const auto& [id, p] : decode_session(second).records) packets.insert(p);
  EXPECT_EQ(packets.size(), 2003u) << "every record once in the new session";
}

// The merge of a pool's files: replayed copies of stored records are left out,
// the others kept once under their ordinary templates, and ordinary records
// are never merged (two flows with the same fields stay two).
TEST(Merge, EachRecordOnceAcrossAFailover) {
  const std::string dir = temp_path("merge");
  for (const char* sub : {"", "/a", "/b", "/out"}) std::filesystem::create_directories(dir + sub);
  ExporterConfig config = replaying();
  config.max_message_length = 1400;
  {
    // The records go to the first file, then again (a file never confirms) to
    // the second, behind 10 new ones.
    Exporter exporter(open_transport("file:" + dir + "/a/1.ipfix"), config);
    for (uint32_t i = 0; i < 100; ++i) exporter.add(flow(i, kTcp), 1);
    exporter.add(flow(7, kTcp), 1);  // the same fields as flow 7: a second flow all the same
    exporter.flush(1);
    exporter.replace_transport(open_transport("file:" + dir + "/b/1.ipfix"));
    for (uint32_t i = 100; i < 110; ++i) exporter.add(flow(i, kTcp), 2);
    exporter.flush(2);
    EXPECT_EQ(exporter.replay_totals().replayed, 101u);
    exporter.close(2);
  }
  std::vector<std::unique_ptr<collector::Output>> outputs;
  outputs.push_back(
      std::make_unique<collector::FileOutput>("file:out", dir + "/out", uint64_t{1} << 30, 3600));
  const collector::MergeStats m = collector::merge({dir + "/a", dir + "/b"}, outputs);
  outputs.clear();
  EXPECT_EQ(m.files, 2u);
  EXPECT_EQ(m.replayed, 101u);
  EXPECT_EQ(m.duplicates, 101u);
  EXPECT_EQ(m.records, 111u);
  EXPECT_EQ(m.discarded_messages, 0u);
  // An independent count of what was written: every packetDeltaCount once,
  // flow 7's twice.
  std::multiset<uint64_t> packets;
  for (const auto& entry : std::filesystem::directory_iterator(dir + "/out")) {
    StreamRecordingTransport file;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::vector<uint8_t> data{std::istreambuf_iterator<char>(in), {}};
    for (size_t at = 0; at + 16 <= data.size(); at += load_be16(&data[at + 2]))
      file.messages.emplace_back(data.begin() + at, data.begin() + at + load_be16(&data[at + 2]));
    for (const auto& [id, p] : decode_session(file).records) {
      EXPECT_LT(id, ipfix::kIPv4FlowTemplateId + ipfix::kReplayTemplateOffset);
      packets.insert(p);
    }
  }
  EXPECT_EQ(packets.size(), 111u);
  EXPECT_EQ(packets.count(8), 2u);
  for (uint64_t p = 1; p <= 110; ++p) EXPECT_GE(packets.count(p), 1u) << p;
  std::filesystem::remove_all(dir);
}

// Every reconnect used to leave its association's state behind (callbacks may
// come after the socket is closed): states are now reused once their socket's
// callbacks are done, so reconnecting forever takes bounded memory.
TEST(SctpTransport, ReconnectingReusesAssociationStates) {
  InProcessCollector in_process("sctp:127.0.0.1:47393");
  collector::Collector& collector = in_process.collector;
  TransportOptions options = in_process.exporter_options();
  const size_t before = transport::SctpTransport::association_states();
  for (int i = 0; i < 30; ++i) {
    auto transport = open_transport("sctp:127.0.0.1:47393", options);
    transport->flush();
  }
  EXPECT_LE(transport::SctpTransport::association_states(), before + 2)
      << "30 associations opened and closed one after the other";
  // A refused association (nobody listens there) gives its state back too.
  options.sctp.connect_timeout_ms = 300;
  for (int i = 0; i < 5; ++i)
    EXPECT_THROW(open_transport("sctp:127.0.0.1:47394", options), std::runtime_error);
  EXPECT_LE(transport::SctpTransport::association_states(), before + 2);
}

TEST(SctpListener, MalformedMessageAbortsOnlyItsAssociation) {
  InProcessCollector in_process("sctp:127.0.0.1:47392");
  collector::Collector& collector = in_process.collector;
  TransportOptions options = in_process.exporter_options();
  auto good = open_transport("sctp:127.0.0.1:47392", options);
  auto bad = open_transport("sctp:127.0.0.1:47392", options);

  const std::vector<uint8_t> netflow_v9 = {0x00, 0x09, 0x00, 0x10, 0, 0, 0, 0,
                                           0,    0,    0,    0,    0, 0, 0, 1};
  const SendResult first = bad->send(netflow_v9, MessageInfo{});
  ASSERT_TRUE(first == SendResult::sent || first == SendResult::held);  // held: in the ring
  // The collector aborts that association (RFC 7011 §10): sends then fail.
  SendResult result = SendResult::sent;
  for (int i = 0; i < 300 && result != SendResult::failed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    result = bad->send(netflow_v9, MessageInfo{});
  }
  EXPECT_EQ(result, SendResult::failed);

  Exporter exporter(std::move(good), ExporterConfig{});
  for (uint32_t i = 0; i < 100; ++i) exporter.add(flow(i, kTcp), 1);
  exporter.close(1);
  for (int i = 0; i < 300 && collector.totals().records < 100; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const collector::ExporterStats t = collector.totals();
  EXPECT_EQ(t.records, 100u) << "the other association goes on";
  EXPECT_EQ(t.errors[static_cast<size_t>(ipfix::DecodeError::wrong_version)], 1u);
  EXPECT_EQ(t.discarded_messages, 1u);
}

}  // namespace
}  // namespace poolflow::exporter
