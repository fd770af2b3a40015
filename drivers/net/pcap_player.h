// Playback of a capture file for `poolflowd --pcap`: the packets come out in mbufs,
// as a port would deliver them, each with its capture time in the mbuf's RX
// timestamp field (microseconds since the epoch).
//
// A classic pcap file is read straight from its mapping, in one pass: one copy
// into the mbuf and no system call per packet. (DPDK's net_pcap reads every
// packet through libpcap's stdio buffer and copies it twice; on a playback that
// cost about as much CPU as metering the packets.) pcapng and other formats
// libpcap knows are read through libpcap.
//
// A damaged record (a capture cut off mid-packet, as a killed tcpdump leaves it)
// ends the playback there, with an error logged: the packets before it are metered.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

struct rte_mbuf;
struct rte_mempool;
struct pcap;

namespace poolflow::net {

class PcapPlayer {
 public:
  /// Opens `path` and checks its file header. Throws std::runtime_error (a file
  /// libpcap cannot read, a link type other than Ethernet).
  explicit PcapPlayer(std::string path);
  ~PcapPlayer();
  PcapPlayer(const PcapPlayer&) = delete;
  PcapPlayer& operator=(const PcapPlayer&) = delete;

  const std::string& path() const { return path_; }

  /// The mbufs the players need from their pool: each of `pollers` threads holds
  /// a burst of `burst` heads and its mempool cache (up to 1.5 × `cache_size`),
  /// and one record may need a chain of the longest kind besides.
  static uint32_t pool_size(unsigned pollers, unsigned cache_size, unsigned burst);

  /// Takes mbufs from `pool` (of the default data room) from now on, and registers the RX timestamp
  /// field. After rte_eal_init(), before rx_burst(). `port` is the ingress port id the mbufs carry.
  /// Throws std::runtime_error.
  void start(rte_mempool* pool, uint16_t port);

  /// Paces the playback: packets come out at `speed` times the pace of their
  /// capture times (1: as captured), measured from the first; 0 (the default):
  /// as fast as the worker takes them. Before start().
  void set_speed(double speed) { speed_ = speed; }

  /// The next packets, at most `max`. Fewer when the pool runs dry: the rest come
  /// at a later call, nothing is skipped. Packets longer than an mbuf's data room
  /// are chained. One thread at a time (the worker that polls this playback).
  uint16_t rx_burst(rte_mbuf** packets, uint16_t max);

  /// The capture has been delivered to its end (or to a damaged record).
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  /// The playback ended at a damaged record rather than at the end of the file.
  bool damaged() const { return damaged_.load(std::memory_order_relaxed); }
  /// Packets delivered so far; any thread.
  uint64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }
  /// Of those, packets captured shorter than they were on the wire (snap length);
  /// any thread.
  uint64_t cut() const { return cut_.load(std::memory_order_relaxed); }

 private:
  struct Record {
    const uint8_t* data;
    uint32_t length;       ///< captured bytes
    uint32_t wire_length;  ///< on the wire
    uint64_t time_us;
  };
  bool map_classic();
  uint32_t u32(size_t at) const;  ///< a field of the mapped file, in host byte order
  /// The next record, from the mapping or from libpcap; false at the end.
  bool next_record(Record& record);
  bool fill(rte_mbuf* head, const Record& record);
  /// Paced: whether a packet captured at `time_us` is due at `now_ns`.
  bool due(uint64_t time_us, uint64_t now_ns);

  std::string path_;
  // Classic pcap: the mapping, its size, where the next record starts. (A file
  // cut short by another program during the playback would fault: captures are
  // expected to stay as they were when poolflowd started.)
  const uint8_t* map_ = nullptr;
  size_t map_size_ = 0;
  size_t cursor_ = 0;
  bool swapped_ = false;     ///< written in the other byte order
  bool nanosecond_ = false;  ///< timestamps in ns, not µs
  // Other formats: libpcap.
  pcap* reader_ = nullptr;

  rte_mempool* pool_ = nullptr;
  uint16_t port_ = 0;
  int timestamp_offset_ = -1;
  uint64_t timestamp_flag_ = 0;
  bool pending_ = false;  ///< `held_` was read but not delivered (no mbuf chain, or not due)
  double speed_ = 0;
  uint64_t pace_start_ns_ = 0;  ///< steady clock when the first packet went out
  uint64_t pace_first_us_ = 0;  ///< its capture time
  Record held_{};
  uint64_t records_read_ = 0;
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> cut_{0};
  std::atomic<bool> finished_{false};
  std::atomic<bool> damaged_{false};
};

}  // namespace poolflow::net
