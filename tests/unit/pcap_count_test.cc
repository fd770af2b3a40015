// Counting a capture's packets before a replay: the header walk of classic pcap
// files agrees with libpcap, and files it does not handle get libpcap's answer.
#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "net/ports.h"

namespace poolflow::net {
namespace {

class PcapCountTest : public ::testing::Test {
 protected:
  std::string path(const std::string& name) {
    return (std::filesystem::temp_directory_path() /
            ("pcap_count_" + std::to_string(getpid()) + "_" + name))
        .string();
  }
  void TearDown() override {
    for (const auto& f : files_) std::filesystem::remove(f);
  }
  // Writes `lengths.size()` packets through libpcap; packets longer than
  // `snaplen` are captured cut.
  std::string write(const std::string& name, int precision, const std::vector<uint32_t>& lengths,
                    int snaplen = 65535) {
    const std::string file = path(name);
    files_.push_back(file);
    pcap_t* dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, snaplen, precision);
    pcap_dumper_t* dumper = pcap_dump_open(dead, file.c_str());
    if (dumper == nullptr) throw std::runtime_error(pcap_geterr(dead));
    std::vector<u_char> data(2000, 0xab);
    for (uint32_t len : lengths) {
      pcap_pkthdr h{};
      h.len = len;
      h.caplen = std::min<uint32_t>(len, static_cast<uint32_t>(snaplen));
      pcap_dump(reinterpret_cast<u_char*>(dumper), &h, data.data());
    }
    pcap_dump_close(dumper);
    pcap_close(dead);
    return file;
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

TEST_F(PcapCountTest, CountsPacketsAndCutOnesInMicroAndNanosecondFiles) {
  const std::vector<uint32_t> lengths = {60, 1514, 64, 200, 1000};
  for (int precision : {PCAP_TSTAMP_PRECISION_MICRO, PCAP_TSTAMP_PRECISION_NANO}) {
    const PcapCount count = count_pcap_packets(write("p", precision, lengths, 128));
    EXPECT_EQ(count.packets, 5u);
    EXPECT_EQ(count.cut, 3u);  // 1514, 200 and 1000 bytes captured as 128
  }
}

TEST_F(PcapCountTest, EmptyCaptureHasNoPackets) {
  EXPECT_EQ(count_pcap_packets(write("empty", PCAP_TSTAMP_PRECISION_MICRO, {})).packets, 0u);
}

TEST_F(PcapCountTest, ReadsFilesOfTheOtherByteOrder) {
  std::vector<char> b = bytes(write("native", PCAP_TSTAMP_PRECISION_MICRO, {60, 70, 80}));
  // Swap every 32-bit field of the file header that matters and of each record header.
  auto swap32 = [&](size_t at) { std::reverse(b.begin() + long(at), b.begin() + long(at) + 4); };
  auto swap16 = [&](size_t at) { std::reverse(b.begin() + long(at), b.begin() + long(at) + 2); };
  swap32(0);
  swap16(4);
  swap16(6);
  for (size_t at : {8, 12, 16, 20}) swap32(at);
  for (size_t at = 24; at < b.size();) {
    uint32_t caplen;
    std::memcpy(&caplen, b.data() + at + 8, 4);
    for (size_t f = 0; f < 16; f += 4) swap32(at + f);
    at += 16 + caplen;
  }
  const std::string file = write_bytes("swapped", b);
  char error[PCAP_ERRBUF_SIZE];
  pcap_t* check = pcap_open_offline(file.c_str(), error);
  ASSERT_NE(check, nullptr) << error;  // libpcap reads it too
  EXPECT_EQ(pcap_is_swapped(check), 1);
  pcap_close(check);
  EXPECT_EQ(count_pcap_packets(file).packets, 3u);
}

TEST_F(PcapCountTest, TruncatedFileIsLibpcapsError) {
  std::vector<char> b = bytes(write("whole", PCAP_TSTAMP_PRECISION_MICRO, {60, 1000}));
  b.resize(b.size() - 10);  // the last packet cut short
  EXPECT_THROW(count_pcap_packets(write_bytes("truncated", b)), std::runtime_error);
}

TEST_F(PcapCountTest, NotAPcapIsLibpcapsError) {
  EXPECT_THROW(count_pcap_packets(write_bytes("junk", std::vector<char>(100, 'x'))),
               std::runtime_error);
  EXPECT_THROW(count_pcap_packets(path("missing")), std::runtime_error);
}

}  // namespace
}  // namespace poolflow::net
