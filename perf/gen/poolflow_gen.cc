// poolflow-gen: writes reproducible pcaps for tests and benchmarks, and a
// manifest of what every flow in them adds up to.
//
// Flows are listed in the manifest from their initiator's side, with the
// responder's packets (--reverse) in reverse_packets/reverse_octets.
//
//   poolflow-gen --out t.pcap --manifest t.csv --packets 100000 --flows 1000
//                --ipv6 0.3 --vlan 0.5 --sizes imix --tcp-syn-fin --rate 1e6 --seed 7
#include <pcap/pcap.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace {

constexpr uint8_t kTcp = 6, kUdp = 17, kIcmp = 1, kIcmpV6 = 58;
constexpr uint8_t kSyn = 0x02, kFin = 0x01, kPsh = 0x08, kAck = 0x10;
constexpr size_t kFcs = 4;  // counted in frame sizes, absent from pcap captures

struct Flow {
  uint8_t ip_version;
  uint8_t protocol;
  std::array<uint8_t, 16> src{}, dst{};
  uint16_t src_port = 0, dst_port = 0;  // ICMP: dst_port = type << 8 | code
  uint16_t vlan = 0;
  uint64_t planned_packets = 0;
  uint64_t sent_packets = 0;  // both directions
  uint64_t packets = 0;       // initiator to responder
  uint64_t octets = 0;        // IP total lengths, initiator to responder
  uint64_t reverse_packets = 0;
  uint64_t reverse_octets = 0;
};

struct Options {
  std::string out, manifest;
  uint64_t packets = 10000, flows = 100;
  double ipv6_share = 0, vlan_share = 0, rate = 1e6;
  double lifetime = 1;  // share of the capture's duration each flow lives in
  double reverse = 0;   // share of packets (after the first) sent by the responder
  std::string sizes = "64";
  bool tcp_syn_fin = false;
  uint64_t seed = 1;
  double start_time = 1.7e9;
};

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

uint16_t ipv4_checksum(const uint8_t* header) {
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += static_cast<uint32_t>(header[i] << 8 | header[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

std::string address_text(const Flow& f, const std::array<uint8_t, 16>& a) {
  char text[64];
  if (f.ip_version == 4) {
    std::snprintf(text, sizeof text, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
    return text;
  }
  std::string s;
  for (int i = 0; i < 16; i += 2) s += fmt::format("{}{:x}", i ? ":" : "", a[i] << 8 | a[i + 1]);
  return s;
}

std::vector<Flow> make_flows(const Options& o, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> unit(0, 1);
  std::set<std::string> keys;
  std::vector<Flow> flows;
  while (flows.size() < o.flows) {
    Flow f;
    f.ip_version = unit(rng) < o.ipv6_share ? 6 : 4;
    const double p = unit(rng);
    f.protocol = p < 0.6 ? kTcp : p < 0.9 ? kUdp : (f.ip_version == 6 ? kIcmpV6 : kIcmp);
    if (f.ip_version == 4) {
      f.src[0] = 10;
      f.dst[0] = 192;
      f.dst[1] = 168;
      for (int i = 1; i < 4; ++i) f.src[i] = static_cast<uint8_t>(rng());
      for (int i = 2; i < 4; ++i) f.dst[i] = static_cast<uint8_t>(rng());
    } else {
      f.src[0] = 0xfd;
      f.dst[0] = 0xfd;
      f.dst[1] = 0x01;
      for (int i = 8; i < 16; ++i)
        f.src[i] = static_cast<uint8_t>(rng()), f.dst[i] = static_cast<uint8_t>(rng());
    }
    if (f.protocol == kTcp || f.protocol == kUdp) {
      f.src_port = static_cast<uint16_t>(1024 + rng() % 64000);
      static constexpr uint16_t kServices[] = {80, 443, 53, 123, 22, 8080};
      f.dst_port = kServices[rng() % std::size(kServices)];
    } else {
      f.dst_port = f.protocol == kIcmp ? 0x0800 : 0x8000;  // echo request
      f.dst_port |= static_cast<uint16_t>(rng() % 2);      // code 0 or 1
    }
    if (unit(rng) < o.vlan_share) f.vlan = static_cast<uint16_t>(1 + rng() % 4094);
    std::string key(f.src.begin(), f.src.end());
    key.insert(key.end(), f.dst.begin(), f.dst.end());
    for (uint16_t v :
         {uint16_t{f.protocol}, f.src_port, f.dst_port, f.vlan, uint16_t{f.ip_version}})
      key += static_cast<char>(v >> 8), key += static_cast<char>(v);
    if (keys.insert(key).second) flows.push_back(f);
  }
  return flows;
}

size_t pick_frame_size(const std::string& sizes, std::mt19937_64& rng) {
  if (sizes == "imix") {
    const uint64_t r = rng() % 12;  // 7:4:1
    return r < 7 ? 64 : r < 11 ? 570 : 1518;
  }
  return std::stoul(sizes);
}

// Builds one frame of `f` into `buf`, from the responder when `reverse`;
// returns its captured length.
size_t build_frame(Flow& f, size_t frame_size, uint8_t* buf, bool tcp_syn_fin, bool reverse) {
  const auto& src = reverse ? f.dst : f.src;
  const auto& dst = reverse ? f.src : f.dst;
  const bool icmp = f.protocol == kIcmp || f.protocol == kIcmpV6;
  const uint16_t src_port = reverse && !icmp ? f.dst_port : f.src_port;
  const uint16_t dst_port = reverse && !icmp ? f.src_port : f.dst_port;
  const size_t l4_len = f.protocol == kTcp ? 20 : 8;
  const size_t ip_header = f.ip_version == 4 ? 20 : 40;
  const size_t l2 = 14 + (f.vlan ? 4 : 0);
  const size_t length = std::max(frame_size - kFcs, l2 + ip_header + l4_len);
  std::fill(buf, buf + length, 0);

  // Ethernet: locally administered MACs.
  const uint8_t dst_mac[6] = {0x02, 0, 0, 0, 0, 2}, src_mac[6] = {0x02, 0, 0, 0, 0, 1};
  std::copy(dst_mac, dst_mac + 6, buf);
  std::copy(src_mac, src_mac + 6, buf + 6);
  size_t off = 12;
  if (f.vlan) {
    put16(buf + off, 0x8100);
    put16(buf + off + 2, f.vlan);
    off += 4;
  }
  put16(buf + off, f.ip_version == 4 ? 0x0800 : 0x86dd);
  off += 2;

  uint8_t* ip = buf + off;
  const size_t ip_total = length - off;
  if (f.ip_version == 4) {
    ip[0] = 0x45;
    put16(ip + 2, static_cast<uint16_t>(ip_total));
    put16(ip + 4, static_cast<uint16_t>(f.sent_packets));
    ip[8] = 64;
    ip[9] = f.protocol;
    std::copy(src.begin(), src.begin() + 4, ip + 12);
    std::copy(dst.begin(), dst.begin() + 4, ip + 16);
    put16(ip + 10, ipv4_checksum(ip));
  } else {
    ip[0] = 0x60;
    put16(ip + 4, static_cast<uint16_t>(ip_total - 40));
    ip[6] = f.protocol;
    ip[7] = 64;
    std::copy(src.begin(), src.end(), ip + 8);
    std::copy(dst.begin(), dst.end(), ip + 24);
  }

  uint8_t* l4 = ip + ip_header;
  if (f.protocol == kTcp || f.protocol == kUdp) {
    put16(l4, src_port);
    put16(l4 + 2, dst_port);
  }
  if (f.protocol == kTcp) {
    l4[12] = 0x50;  // data offset 5
    uint8_t flags = kAck | kPsh;
    if (tcp_syn_fin && f.sent_packets == 0)
      flags = kSyn;
    else if (tcp_syn_fin && f.sent_packets + 1 == f.planned_packets)
      flags = kFin | kAck;
    l4[13] = flags;
    put16(l4 + 14, 65535);
  } else if (f.protocol == kUdp) {
    put16(l4 + 4, static_cast<uint16_t>(ip_total - ip_header));
  } else {
    put16(l4, f.dst_port);  // type, code
  }
  f.sent_packets += 1;
  (reverse ? f.reverse_packets : f.packets) += 1;
  (reverse ? f.reverse_octets : f.octets) += ip_total;
  return length;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"poolflow-gen: reproducible test pcaps with a per-flow manifest"};
  app.add_option("-o,--out", o.out, "pcap file to write")->required();
  app.add_option("-m,--manifest", o.manifest, "CSV of expected per-flow packet and octet totals");
  app.add_option("-n,--packets", o.packets, "number of packets")->check(CLI::PositiveNumber);
  app.add_option("-f,--flows", o.flows, "number of distinct flows")->check(CLI::PositiveNumber);
  app.add_option("--ipv6", o.ipv6_share, "share of IPv6 flows, 0..1")->check(CLI::Range(0.0, 1.0));
  app.add_option("--vlan", o.vlan_share, "share of 802.1Q-tagged flows, 0..1")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--sizes", o.sizes, "frame size in bytes with FCS (64..1518), or imix (7:4:1)")
      ->check([](const std::string& s) -> std::string {
        if (s == "imix") return "";
        try {
          const unsigned long n = std::stoul(s);
          return n >= 64 && n <= 1518 ? "" : "frame size must be 64..1518";
        } catch (...) {
          return "expected a number or imix";
        }
      });
  app.add_flag("--tcp-syn-fin", o.tcp_syn_fin, "TCP flows open with SYN and close with FIN");
  app.add_option("--lifetime", o.lifetime,
                 "each flow's packets fall in a window of this share of the capture, placed at "
                 "random (flows start and go idle at different times); 1 = whole capture")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--reverse", o.reverse,
                 "share of each flow's packets after the first sent back by the responder "
                 "(bidirectional connections), 0..1")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--rate", o.rate, "packets per second of the timestamps")
      ->check(CLI::PositiveNumber);
  app.add_option("--seed", o.seed, "random seed (same seed, same pcap)");
  app.add_option("--start-time", o.start_time, "timestamp of the first packet, Unix seconds");
  CLI11_PARSE(app, argc, argv);
  if (o.packets < o.flows) {
    fmt::print(stderr, "poolflow-gen: --packets ({}) must be at least --flows ({})\n", o.packets,
               o.flows);
    return 2;
  }

  std::mt19937_64 rng(o.seed);
  std::vector<Flow> flows = make_flows(o, rng);
  // Every flow gets one packet, the rest go to flows at random; then shuffle.
  std::vector<uint32_t> order(o.packets);
  for (uint64_t i = 0; i < o.packets; ++i)
    order[i] = static_cast<uint32_t>(i < o.flows ? i : rng() % o.flows);
  for (uint32_t id : order) flows[id].planned_packets += 1;
  if (o.lifetime >= 1) {
    std::shuffle(order.begin(), order.end(), rng);
  } else {
    // Each flow lives in its own window: draw its packets' times, then sort.
    std::uniform_real_distribution<double> unit(0, 1);
    std::vector<std::pair<double, uint32_t>> timed;
    timed.reserve(o.packets);
    for (uint32_t id = 0; id < flows.size(); ++id) {
      const double start = unit(rng) * (1 - o.lifetime);
      for (uint64_t k = 0; k < flows[id].planned_packets; ++k)
        timed.emplace_back(start + unit(rng) * o.lifetime, id);
    }
    std::sort(timed.begin(), timed.end());
    for (uint64_t i = 0; i < o.packets; ++i) order[i] = timed[i].second;
  }

  pcap_t* dead = pcap_open_dead(DLT_EN10MB, 65535);
  pcap_dumper_t* dumper = pcap_dump_open(dead, o.out.c_str());
  if (dumper == nullptr) {
    fmt::print(stderr, "poolflow-gen: {}: {}\n", o.out, pcap_geterr(dead));
    return 1;
  }
  uint8_t frame[2048];
  uint64_t total_octets = 0;
  for (uint64_t i = 0; i < o.packets; ++i) {
    Flow& f = flows[order[i]];
    const bool reverse =
        f.sent_packets > 0 && static_cast<double>(rng() % 1'000'000) < o.reverse * 1e6;
    const size_t length =
        build_frame(f, pick_frame_size(o.sizes, rng), frame, o.tcp_syn_fin, reverse);
    const double t = o.start_time + static_cast<double>(i) / o.rate;
    pcap_pkthdr header{};
    header.ts.tv_sec = static_cast<time_t>(t);
    header.ts.tv_usec = static_cast<suseconds_t>((t - static_cast<double>(header.ts.tv_sec)) * 1e6);
    header.caplen = header.len = static_cast<bpf_u_int32>(length);
    pcap_dump(reinterpret_cast<u_char*>(dumper), &header, frame);
    total_octets += length;
  }
  pcap_dump_close(dumper);
  pcap_close(dead);

  if (!o.manifest.empty()) {
    std::FILE* m = std::fopen(o.manifest.c_str(), "w");
    if (m == nullptr) {
      fmt::print(stderr, "poolflow-gen: {}: cannot write\n", o.manifest);
      return 1;
    }
    fmt::print(m,
               "ip_version,src,dst,protocol,src_port,dst_port,vlan,packets,octets,"
               "reverse_packets,reverse_octets\n");
    for (const Flow& f : flows)
      fmt::print(m, "{},{},{},{},{},{},{},{},{},{},{}\n", f.ip_version, address_text(f, f.src),
                 address_text(f, f.dst), f.protocol, f.src_port, f.dst_port, f.vlan, f.packets,
                 f.octets, f.reverse_packets, f.reverse_octets);
    std::fclose(m);
  }
  fmt::print("poolflow-gen: {} packets ({} bytes captured) in {} flows -> {}\n", o.packets,
             total_octets, flows.size(), o.out);
  return 0;
}
