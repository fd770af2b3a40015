// Playback of captures (PcapPlayer): every packet delivered in mbufs (bytes,
// lengths, capture times) agrees with what libpcap reads, for classic pcap files
// read from the mapping and for pcapng files read through libpcap; damaged files
// end the playback at the damage; a pool that runs dry delays packets and loses
// none. Runs the real EAL (no hugepages, no PCI).
#include <gtest/gtest.h>

#include <pcap/pcap.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <unistd.h>
#include <chrono>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "net/pcap_player.h"
#include "net/ports.h"

namespace poolflow::net {
namespace {

// One EAL and one mbuf pool for the whole suite.
class EalEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    std::vector<std::string> args = {"pcap_player_test",   "-l",          "0",  "--no-huge",
                                     "--no-pci",           "--no-shconf", "-m", "64",
                                     "--log-level=warning"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    ASSERT_GE(rte_eal_init(static_cast<int>(argv.size()), argv.data()), 0);
    PortSettings settings;
    settings.mbuf_pool_size = kPoolSize;
    settings.mbuf_cache_size = 0;
    pool = create_mbuf_pool(settings);
  }
  void TearDown() override { rte_eal_cleanup(); }
  static constexpr unsigned kPoolSize = 255;
  static inline rte_mempool* pool = nullptr;
};
const auto* const kEal = ::testing::AddGlobalTestEnvironment(new EalEnvironment);

class PcapPlayerTest : public ::testing::Test {
 protected:
  std::string path(const std::string& name) {
    return (std::filesystem::temp_directory_path() /
            ("pcap_player_" + std::to_string(getpid()) + "_" + name))
        .string();
  }
  void TearDown() override {
    for (const auto& f : files_) std::filesystem::remove(f);
    // Every mbuf a test took is back (the pool has no per-lcore cache).
    EXPECT_EQ(rte_mempool_avail_count(EalEnvironment::pool), EalEnvironment::kPoolSize);
  }
  // Writes `lengths.size()` packets through libpcap; packets longer than
  // `snaplen` are captured cut.
  // Packet i has bytes (i * 7 + offset) mod 251 and is captured at second
  // 1.7e9 + i, fraction i * 1000 + 7 (µs or ns, as `precision` says).
  std::string write(const std::string& name, int precision, const std::vector<uint32_t>& lengths,
                    int snaplen = 65535, int link_type = DLT_EN10MB) {
    const std::string file = path(name);
    files_.push_back(file);
    pcap_t* dead = pcap_open_dead_with_tstamp_precision(link_type, snaplen, precision);
    pcap_dumper_t* dumper = pcap_dump_open(dead, file.c_str());
    if (dumper == nullptr) throw std::runtime_error(pcap_geterr(dead));
    for (uint32_t i = 0; i < lengths.size(); ++i) {
      pcap_pkthdr h{};
      h.len = lengths[i];
      h.caplen = std::min<uint32_t>(lengths[i], static_cast<uint32_t>(snaplen));
      h.ts.tv_sec = 1'700'000'000 + i;
      h.ts.tv_usec = i * 1000 + 7;
      const std::vector<u_char> data = content(i, h.caplen);
      pcap_dump(reinterpret_cast<u_char*>(dumper), &h, data.data());
    }
    pcap_dump_close(dumper);
    pcap_close(dead);
    return file;
  }
  static std::vector<u_char> content(uint32_t packet, uint32_t length) {
    std::vector<u_char> data(length);
    for (uint32_t k = 0; k < length; ++k) data[k] = static_cast<u_char>((packet * 7 + k) % 251);
    return data;
  }
  // A pcapng file (block by block: libpcap writes only classic pcap); packet i
  // has content(i, length) and is captured at 1.7e15 + i µs.
  std::string write_pcapng(const std::string& name, const std::vector<uint32_t>& lengths) {
    std::vector<char> b;
    auto u32 = [&](uint32_t v) {
      b.insert(b.end(), reinterpret_cast<char*>(&v), reinterpret_cast<char*>(&v) + 4);
    };
    auto u16 = [&](uint16_t v) {
      b.insert(b.end(), reinterpret_cast<char*>(&v), reinterpret_cast<char*>(&v) + 2);
    };
    u32(0x0a0d0d0a), u32(28), u32(0x1a2b3c4d), u16(1), u16(0), u32(0xffffffff), u32(0xffffffff),
        u32(28);                                                    // section header
    u32(1), u32(20), u16(DLT_EN10MB), u16(0), u32(65535), u32(20);  // interface, µs times
    for (uint32_t i = 0; i < lengths.size(); ++i) {
      const uint32_t padded = (lengths[i] + 3) / 4 * 4;
      const uint64_t time_us = 1'700'000'000'000'000 + i;
      u32(6), u32(32 + padded), u32(0), u32(uint32_t(time_us >> 32)), u32(uint32_t(time_us)),
          u32(lengths[i]), u32(lengths[i]);  // enhanced packet block
      const std::vector<u_char> data = content(i, lengths[i]);
      b.insert(b.end(), data.begin(), data.end());
      b.resize(b.size() + padded - lengths[i]);
      u32(32 + padded);
    }
    return write_bytes(name, b);
  }
  // A classic pcap file as a machine of the other byte order writes it: every
  // field of the file header that matters and of each record header swapped.
  static void swap_byte_order(std::vector<char>& b) {
    auto swap = [&](size_t at, long size) {
      std::reverse(b.begin() + long(at), b.begin() + long(at) + size);
    };
    swap(0, 4), swap(4, 2), swap(6, 2);
    for (size_t at : {8, 12, 16, 20}) swap(at, 4);
    for (size_t at = 24; at < b.size();) {
      uint32_t caplen;
      std::memcpy(&caplen, b.data() + at + 8, 4);
      for (size_t f = 0; f < 16; f += 4) swap(at + f, 4);
      at += 16 + caplen;
    }
  }
  std::vector<char> bytes(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  std::string write_bytes(const std::string& name, const std::vector<char>& content) {
    const std::string file = path(name);
    files_.push_back(file);
    std::ofstream(file, std::ios::binary).write(content.data(), std::streamsize(content.size()));
    return file;
  }

  std::vector<std::string> files_;
};

// Everything a playback delivers, as (bytes, capture time in µs) per packet.
struct Delivered {
  std::vector<std::vector<u_char>> packets;
  std::vector<uint64_t> times_us;
  std::vector<uint16_t> segments;
};

Delivered play_all(PcapPlayer& player) {
  player.start(EalEnvironment::pool, 3);
  int offset;
  uint64_t flag;
  EXPECT_EQ(rte_mbuf_dyn_rx_timestamp_register(&offset, &flag), 0);
  Delivered d;
  rte_mbuf* burst[32];
  for (int polls = 0; !player.finished() && polls < 100'000; ++polls) {
    const uint16_t n = player.rx_burst(burst, 32);
    for (uint16_t i = 0; i < n; ++i) {
      rte_mbuf* m = burst[i];
      EXPECT_EQ(m->port, 3);
      EXPECT_TRUE(m->ol_flags & flag);
      std::vector<u_char> scratch(m->pkt_len);
      const auto* bytes =
          static_cast<const u_char*>(rte_pktmbuf_read(m, 0, m->pkt_len, scratch.data()));
      EXPECT_NE(bytes, nullptr);
      if (bytes != nullptr) d.packets.emplace_back(bytes, bytes + m->pkt_len);
      d.times_us.push_back(*RTE_MBUF_DYNFIELD(m, offset, rte_mbuf_timestamp_t*));
      d.segments.push_back(m->nb_segs);
    }
    rte_pktmbuf_free_bulk(burst, n);
  }
  EXPECT_TRUE(player.finished());
  EXPECT_EQ(player.delivered(), d.packets.size());
  return d;
}

// What libpcap reads from the same file (its default precision is µs).
Delivered read_with_libpcap(const std::string& file) {
  char error[PCAP_ERRBUF_SIZE];
  pcap_t* pcap = pcap_open_offline(file.c_str(), error);
  EXPECT_NE(pcap, nullptr) << error;
  Delivered d;
  pcap_pkthdr* h;
  const u_char* data;
  while (pcap != nullptr && pcap_next_ex(pcap, &h, &data) == 1) {
    d.packets.emplace_back(data, data + h->caplen);
    d.times_us.push_back(uint64_t(h->ts.tv_sec) * 1'000'000 + uint64_t(h->ts.tv_usec));
  }
  if (pcap != nullptr) pcap_close(pcap);
  return d;
}

TEST_F(PcapPlayerTest, DeliversWhatLibpcapReadsWithCaptureTimes) {
  const std::vector<uint32_t> lengths = {60, 1514, 64, 9000, 1000, 2048, 2049};
  for (int precision : {PCAP_TSTAMP_PRECISION_MICRO, PCAP_TSTAMP_PRECISION_NANO}) {
    const std::string file = write("content", precision, lengths);
    PcapPlayer player(file);
    const Delivered got = play_all(player);
    const Delivered want = read_with_libpcap(file);
    ASSERT_EQ(got.packets.size(), lengths.size());
    EXPECT_EQ(got.packets, want.packets);
    EXPECT_EQ(got.times_us, want.times_us);
    const uint64_t fraction_us = precision == PCAP_TSTAMP_PRECISION_NANO ? 1 : 1007;  // packet 1
    EXPECT_EQ(got.times_us[1], 1'700'000'001'000'000u + fraction_us);
    EXPECT_EQ(got.segments[0], 1);
    EXPECT_EQ(got.segments[3], 5);  // 9000 bytes in mbufs of 2048
    EXPECT_EQ(got.segments[5], 1);
    EXPECT_EQ(got.segments[6], 2);
  }
}

// Paced (input.pcap_speed_percent): a packet comes out no earlier than its
// capture time after the first's, scaled by the speed; all of them still come.
TEST_F(PcapPlayerTest, PacedPlaybackKeepsTheCapturePace) {
  PcapPlayer player(write("paced", PCAP_TSTAMP_PRECISION_MICRO, {60, 60, 60}));  // 1 s apart
  player.set_speed(10.0);  // 10 times the capture's pace: 100 ms apart
  player.start(EalEnvironment::pool, 0);
  rte_mbuf* burst[32];
  const auto started = std::chrono::steady_clock::now();
  std::vector<double> at_ms;
  for (int polls = 0; !player.finished() && polls < 10'000'000; ++polls) {
    const uint16_t n = player.rx_burst(burst, 32);
    for (uint16_t i = 0; i < n; ++i)
      at_ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
              .count());
    rte_pktmbuf_free_bulk(burst, n);
  }
  ASSERT_EQ(at_ms.size(), 3u);
  EXPECT_GE(at_ms[1], 100.0) << "the second packet, captured 1 s after the first";
  EXPECT_GE(at_ms[2], 200.0);
}

TEST_F(PcapPlayerTest, CutPacketsArePlayedAsCaptured) {
  const std::string file = write("cut", PCAP_TSTAMP_PRECISION_MICRO, {60, 1514}, 128);
  PcapPlayer player(file);
  const Delivered got = play_all(player);
  ASSERT_EQ(got.packets.size(), 2u);
  EXPECT_EQ(got.packets[1].size(), 128u);
  EXPECT_EQ(got.packets, read_with_libpcap(file).packets);
}

// A pcapng file goes through libpcap.
TEST_F(PcapPlayerTest, PlaysPcapngThroughLibpcap) {
  const std::string file = write_pcapng("ng", {61, 62, 63});
  PcapPlayer player(file);
  const Delivered got = play_all(player);
  EXPECT_EQ(got.packets, read_with_libpcap(file).packets);
  ASSERT_EQ(got.packets.size(), 3u);
  EXPECT_EQ(got.packets[2], content(2, 63));
  EXPECT_EQ(got.times_us[2], 1'700'000'000'000'002u);
  EXPECT_FALSE(player.damaged());
}

TEST_F(PcapPlayerTest, NonEthernetCaptureIsRefused) {
  const std::string file = write("raw", PCAP_TSTAMP_PRECISION_MICRO, {60}, 65535, DLT_RAW);
  try {
    PcapPlayer player(file);
    ADD_FAILURE() << "a raw IP capture was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("Ethernet captures only"), std::string::npos) << e.what();
  }
}

// When the pool runs dry the playback gives what it can and carries on later
// where it stopped: no packet is skipped or repeated.
TEST_F(PcapPlayerTest, DryPoolDelaysPacketsWithoutLosingAny) {
  const std::vector<uint32_t> lengths(300, 60);
  PcapPlayer player(write("dry", PCAP_TSTAMP_PRECISION_MICRO, lengths));
  player.start(EalEnvironment::pool, 0);
  std::vector<rte_mbuf*> held;
  std::vector<u_char> first_bytes;
  for (int round = 0; round < 10 && !player.finished(); ++round) {
    rte_mbuf* burst[32];
    uint16_t n;
    while ((n = player.rx_burst(burst, 32)) != 0) held.insert(held.end(), burst, burst + n);
    EXPECT_EQ(player.delivered(), first_bytes.size() + held.size());
    if (!player.finished()) {
      EXPECT_GT(held.size(), 200u);  // the pool (255) ran dry
    }
    for (rte_mbuf* m : held) first_bytes.push_back(*rte_pktmbuf_mtod(m, u_char*));
    rte_pktmbuf_free_bulk(held.data(), static_cast<unsigned>(held.size()));
    held.clear();
  }
  ASSERT_EQ(first_bytes.size(), 300u);
  for (uint32_t i = 0; i < 300; ++i) EXPECT_EQ(first_bytes[i], (i * 7) % 251) << "packet " << i;
}

TEST_F(PcapPlayerTest, CountsCutPacketsInMicroAndNanosecondFiles) {
  const std::vector<uint32_t> lengths = {60, 1514, 64, 200, 1000};
  for (int precision : {PCAP_TSTAMP_PRECISION_MICRO, PCAP_TSTAMP_PRECISION_NANO}) {
    PcapPlayer player(write("p", precision, lengths, 128));
    EXPECT_EQ(play_all(player).packets.size(), 5u);
    EXPECT_EQ(player.cut(), 3u);  // 1514, 200 and 1000 bytes captured as 128
  }
}

TEST_F(PcapPlayerTest, EmptyCaptureFinishesAtOnce) {
  PcapPlayer player(write("empty", PCAP_TSTAMP_PRECISION_MICRO, {}));
  EXPECT_TRUE(play_all(player).packets.empty());
}

TEST_F(PcapPlayerTest, ReadsFilesOfTheOtherByteOrder) {
  std::vector<char> b = bytes(write("native", PCAP_TSTAMP_PRECISION_MICRO, {60, 70, 80}));
  swap_byte_order(b);
  const std::string file = write_bytes("swapped", b);
  char error[PCAP_ERRBUF_SIZE];
  pcap_t* check = pcap_open_offline(file.c_str(), error);
  ASSERT_NE(check, nullptr) << error;  // libpcap reads it too
  EXPECT_EQ(pcap_is_swapped(check), 1);
  pcap_close(check);
  PcapPlayer player(file);
  const Delivered got = play_all(player);
  EXPECT_EQ(got.packets.size(), 3u);
  EXPECT_EQ(got.packets, read_with_libpcap(file).packets);
  EXPECT_EQ(got.times_us, read_with_libpcap(file).times_us);
}

// A capture cut off mid-packet (a killed tcpdump): the packets before the
// damaged record are played back, then the playback ends.
TEST_F(PcapPlayerTest, TruncatedFileEndsAtTheDamagedRecord) {
  std::vector<char> b = bytes(write("whole", PCAP_TSTAMP_PRECISION_MICRO, {60, 70, 1000}));
  b.resize(b.size() - 10);  // the last packet cut short
  PcapPlayer player(write_bytes("truncated", b));
  const Delivered got = play_all(player);
  ASSERT_EQ(got.packets.size(), 2u);
  EXPECT_EQ(got.packets[1], content(1, 70));
  EXPECT_TRUE(player.damaged());
}

TEST_F(PcapPlayerTest, NotAPcapIsLibpcapsError) {
  EXPECT_THROW(PcapPlayer(write_bytes("junk", std::vector<char>(100, 'x'))), std::runtime_error);
  EXPECT_THROW(PcapPlayer(path("missing")), std::runtime_error);
}

// Delivers everything from `playback` with mbufs of `pool`, taking them back only
// after each round (so a small pool runs dry mid-chain); the bytes of each packet.
std::vector<std::vector<u_char>> play_in_rounds(PcapPlayer& player, rte_mempool* pool) {
  player.start(pool, 0);
  std::vector<std::vector<u_char>> packets;
  for (int round = 0; round < 1000 && !player.finished(); ++round) {
    std::vector<rte_mbuf*> held;
    rte_mbuf* burst[32];
    uint16_t n;
    while ((n = player.rx_burst(burst, 32)) != 0) held.insert(held.end(), burst, burst + n);
    for (rte_mbuf* m : held) {
      std::vector<u_char> scratch(m->pkt_len);
      const auto* bytes =
          static_cast<const u_char*>(rte_pktmbuf_read(m, 0, m->pkt_len, scratch.data()));
      packets.emplace_back(bytes, bytes + m->pkt_len);
      rte_pktmbuf_free(m);
    }
  }
  EXPECT_TRUE(player.finished());
  return packets;
}

// Jumbo frames from a pool that holds two chains at a time after the burst's
// heads: the third record's chain cannot be had, waits for the next round, and
// nothing is lost, repeated or leaked, whether read from the mapping or libpcap.
TEST_F(PcapPlayerTest, ChainsThatFindNoMbufWaitForTheNextRound) {
  constexpr unsigned kSmallPool = 40;  // 32 heads + 2 × 4 more segments of 9000 bytes
  rte_mempool* pool = rte_pktmbuf_pool_create("small_pool", kSmallPool, 0, 0,
                                              RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  ASSERT_NE(pool, nullptr);
  const std::vector<uint32_t> lengths(9, 9000);
  for (const std::string& file :
       {write("jumbo", PCAP_TSTAMP_PRECISION_MICRO, lengths), write_pcapng("jumbo_ng", lengths)}) {
    PcapPlayer player(file);
    const auto got = play_in_rounds(player, pool);
    EXPECT_EQ(got, read_with_libpcap(file).packets) << file;
    EXPECT_EQ(rte_mempool_avail_count(pool), kSmallPool) << file;
  }
  rte_mempool_free(pool);
}

TEST_F(PcapPlayerTest, SwappedNanosecondFileKeepsItsTimes) {
  std::vector<char> b = bytes(write("ns", PCAP_TSTAMP_PRECISION_NANO, {60, 70}));
  swap_byte_order(b);
  const std::string file = write_bytes("ns_swapped", b);
  PcapPlayer player(file);
  const Delivered got = play_all(player);
  EXPECT_EQ(got.times_us, read_with_libpcap(file).times_us);
  ASSERT_EQ(got.times_us.size(), 2u);
  EXPECT_EQ(got.times_us[1], 1'700'000'001'000'001u);  // 1007 ns
}

// Damage other than a cut-off last packet: a few stray bytes after the last
// record, a record claiming more than libpcap would ever read, a cut pcapng.
TEST_F(PcapPlayerTest, DamagedRecordsEndThePlaybackThere) {
  std::vector<char> trailing = bytes(write("t", PCAP_TSTAMP_PRECISION_MICRO, {60, 70}));
  trailing.resize(trailing.size() + 7, 'x');
  PcapPlayer stray(write_bytes("trailing", trailing));
  EXPECT_EQ(play_all(stray).packets.size(), 2u);
  EXPECT_TRUE(stray.damaged());

  std::vector<char> huge = bytes(write("h", PCAP_TSTAMP_PRECISION_MICRO, {60, 70, 80}));
  const uint32_t absurd = 300'000;
  std::memcpy(huge.data() + 24 + 16 + 60 + 8, &absurd, 4);  // the second record's caplen
  PcapPlayer oversized(write_bytes("huge", huge));
  EXPECT_EQ(play_all(oversized).packets.size(), 1u);
  EXPECT_TRUE(oversized.damaged());

  std::vector<char> ng = bytes(write_pcapng("n", {61, 62, 63}));
  ng.resize(ng.size() - 20);
  PcapPlayer cut_ng(write_bytes("cut_ng", ng));
  EXPECT_EQ(play_all(cut_ng).packets.size(), 2u);
  EXPECT_TRUE(cut_ng.damaged());

  PcapPlayer whole(write("w", PCAP_TSTAMP_PRECISION_MICRO, {60}));
  play_all(whole);
  EXPECT_FALSE(whole.damaged());
}

}  // namespace
}  // namespace poolflow::net
