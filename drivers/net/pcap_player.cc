#include "net/pcap_player.h"

#include <fcntl.h>
#include <pcap/pcap.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_prefetch.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "poolflow/clock.h"

namespace poolflow::net {

namespace {

constexpr size_t kFileHeader = 24;
constexpr size_t kRecordHeader = 16;
constexpr uint32_t kLibpcapMaxRecord = 262'144;  // libpcap's MAXIMUM_SNAPLEN
constexpr uint32_t kLinktypeEthernet = 1;
constexpr size_t kPrefetchAhead = 2048;
// The most mbufs one record can take: libpcap's largest record in mbufs of the
// default data room.
constexpr uint32_t kLongestChain =
    (kLibpcapMaxRecord + RTE_MBUF_DEFAULT_DATAROOM - 1) / RTE_MBUF_DEFAULT_DATAROOM;

std::string link_type_error(int link_type) {
  const char* name = pcap_datalink_val_to_name(link_type);
  return "link type " + std::to_string(link_type) +
         (name != nullptr ? std::string(" (") + name + ")" : "") +
         ": poolflowd meters Ethernet captures only";
}

}  // namespace

PcapPlayer::PcapPlayer(std::string path) : path_(std::move(path)) {
  if (map_classic()) return;
  char error[PCAP_ERRBUF_SIZE] = {};
  reader_ = pcap_open_offline(path_.c_str(), error);
  if (reader_ == nullptr) throw std::runtime_error(path_ + ": " + error);
  if (const int link_type = pcap_datalink(reader_); link_type != DLT_EN10MB) {
    pcap_close(reader_);  // no destructor runs for a constructor that throws
    throw std::runtime_error(path_ + ": " + link_type_error(link_type));
  }
}

PcapPlayer::~PcapPlayer() {
  if (map_ != nullptr) munmap(const_cast<uint8_t*>(map_), map_size_);
  if (reader_ != nullptr) pcap_close(reader_);
}

uint32_t PcapPlayer::u32(size_t at) const {
  uint32_t v;
  std::memcpy(&v, map_ + at, sizeof(v));
  return swapped_ ? __builtin_bswap32(v) : v;
}

// True for a classic pcap file, then mapped; anything else is left to libpcap.
bool PcapPlayer::map_classic() {
  const int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  const bool sized =
      fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= static_cast<off_t>(kFileHeader);
  void* map = sized ? mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0)
                    : MAP_FAILED;
  close(fd);
  if (map == MAP_FAILED) return false;
  uint32_t magic;
  std::memcpy(&magic, map, sizeof(magic));
  const bool native = magic == 0xa1b2c3d4 || magic == 0xa1b23c4d;  // µs or ns timestamps
  swapped_ = magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1;
  if (!native && !swapped_) {
    munmap(map, static_cast<size_t>(st.st_size));
    return false;
  }
  madvise(map, static_cast<size_t>(st.st_size), MADV_SEQUENTIAL);
  map_ = static_cast<const uint8_t*>(map);
  map_size_ = static_cast<size_t>(st.st_size);
  nanosecond_ = magic == 0xa1b23c4d || magic == 0x4d3cb2a1;
  if ((u32(20) & 0x0fffffff) !=
      kLinktypeEthernet) {  // the high bits say whether frames have an FCS
    const int link_type = static_cast<int>(u32(20) & 0xffff);
    munmap(map, map_size_);  // no destructor runs for a constructor that throws
    throw std::runtime_error(path_ + ": " + link_type_error(link_type));
  }
  cursor_ = kFileHeader;
  return true;
}

uint32_t PcapPlayer::pool_size(unsigned pollers, unsigned cache_size, unsigned burst) {
  return pollers * (cache_size * 3 / 2 + burst) + kLongestChain;
}

void PcapPlayer::start(rte_mempool* pool, uint16_t port) {
  if (rte_mbuf_dyn_rx_timestamp_register(&timestamp_offset_, &timestamp_flag_) != 0)
    throw std::runtime_error(
        path_ + ": cannot register the mbuf timestamp field: " + rte_strerror(rte_errno));
  pool_ = pool;
  port_ = port;
  spdlog::info("{}: played as ingress port {} by one worker ({})", path_, port,
               map_ != nullptr ? "classic pcap, read from its mapping" : "read through libpcap");
}

bool PcapPlayer::next_record(Record& record) {
  if (map_ != nullptr) {
    const size_t left = map_size_ - cursor_;
    // seconds, fraction of a second, captured length, length on the wire
    uint32_t header[4] = {0, 0, UINT32_MAX, 0};
    if (left >= kRecordHeader) std::memcpy(header, map_ + cursor_, sizeof(header));
    if (swapped_)
      for (uint32_t& field : header) field = __builtin_bswap32(field);
    const uint32_t caplen = header[2];
    if (caplen > kLibpcapMaxRecord || caplen > left - kRecordHeader) {
      if (left != 0) {
        damaged_.store(true, std::memory_order_relaxed);
        spdlog::error("{}: damaged record at byte {} (after packet {}): the playback ends there",
                      path_, cursor_, records_read_);
      }
      return false;
    }
    record.time_us = uint64_t{header[0]} * 1'000'000 + (nanosecond_ ? header[1] / 1000 : header[1]);
    record.length = caplen;
    record.wire_length = header[3];
    record.data = map_ + cursor_ + kRecordHeader;
    cursor_ += kRecordHeader + caplen;
    // The file is read once, front to back, and the hardware prefetcher stops at
    // each 4 KiB page: fetch the lines a few records ahead (measured with 64-byte
    // packets, where two lines are a record or two; larger packets get their
    // first lines fetched, and no page is faulted in by a prefetch).
    if (map_size_ - cursor_ > kPrefetchAhead + 64) {
      rte_prefetch0(map_ + cursor_ + kPrefetchAhead);
      rte_prefetch0(map_ + cursor_ + kPrefetchAhead + 64);
    }
    ++records_read_;
    return true;
  }
  pcap_pkthdr* header;
  const u_char* data;
  const int rc = pcap_next_ex(reader_, &header, &data);
  if (rc != 1) {
    if (rc == PCAP_ERROR) {
      damaged_.store(true, std::memory_order_relaxed);
      spdlog::error("{}: {} (after packet {}): the playback ends there", path_,
                    pcap_geterr(reader_), records_read_);
    }
    return false;
  }
  record.data = data;
  record.length = header->caplen;
  record.wire_length = header->len;
  record.time_us = static_cast<uint64_t>(header->ts.tv_sec) * 1'000'000 +
                   static_cast<uint64_t>(header->ts.tv_usec);
  ++records_read_;
  return true;
}

bool PcapPlayer::fill(rte_mbuf* head, const Record& record) {
  uint32_t copied = std::min<uint32_t>(record.length, rte_pktmbuf_tailroom(head));
  std::memcpy(rte_pktmbuf_mtod(head, uint8_t*), record.data, copied);
  head->data_len = static_cast<uint16_t>(copied);
  head->pkt_len = record.length;
  head->port = port_;
  *RTE_MBUF_DYNFIELD(head, timestamp_offset_, rte_mbuf_timestamp_t*) = record.time_us;
  head->ol_flags |= timestamp_flag_;
  // Longer than one mbuf's room (jumbo frames): a chain, as a port would give it.
  for (rte_mbuf* last = head; copied < record.length;) {
    rte_mbuf* segment = rte_pktmbuf_alloc(pool_);
    if (segment == nullptr) {
      // Give the segments back one by one (the head's counts no longer describe
      // a chain) and make the head a lone empty mbuf again for the caller's free.
      for (rte_mbuf* s = head->next; s != nullptr;) {
        rte_mbuf* next = s->next;
        rte_pktmbuf_free_seg(s);
        s = next;
      }
      rte_pktmbuf_reset(head);
      return false;
    }
    const uint32_t part = std::min<uint32_t>(record.length - copied, rte_pktmbuf_tailroom(segment));
    std::memcpy(rte_pktmbuf_mtod(segment, uint8_t*), record.data + copied, part);
    segment->data_len = static_cast<uint16_t>(part);
    last->next = segment;
    last = segment;
    ++head->nb_segs;
    copied += part;
  }
  return true;
}

bool PcapPlayer::due(uint64_t time_us, uint64_t now_ns) {
  if (pace_start_ns_ == 0) {
    pace_start_ns_ = now_ns;
    pace_first_us_ = time_us;
  }
  if (time_us <= pace_first_us_) return true;  // a capture that goes back in time: at once
  return now_ns - pace_start_ns_ >=
         static_cast<uint64_t>(static_cast<double>(time_us - pace_first_us_) * 1000.0 / speed_);
}

uint16_t PcapPlayer::rx_burst(rte_mbuf** packets, uint16_t max) {
  if (finished_.load(std::memory_order_relaxed)) return 0;
  // Paced: one clock read per burst; nothing is allocated while nothing is due.
  const uint64_t now_ns = speed_ > 0 ? steady_ns() : 0;
  if (speed_ > 0 && pending_ && !due(held_.time_us, now_ns)) return 0;
  if (rte_pktmbuf_alloc_bulk(pool_, packets, max) != 0) return 0;
  uint16_t filled = 0;
  uint64_t cut = 0;
  while (filled < max) {
    if (!pending_ && !next_record(held_)) {
      finished_.store(true, std::memory_order_release);
      break;
    }
    pending_ = true;
    if (speed_ > 0 && !due(held_.time_us, now_ns)) break;  // at its time
    if (!fill(packets[filled], held_)) break;  // no mbuf for the chain: at the next call
    pending_ = false;
    cut += held_.length < held_.wire_length;
    ++filled;
  }
  if (filled < max) rte_pktmbuf_free_bulk(packets + filled, max - filled);
  if (cut != 0) cut_.fetch_add(cut, std::memory_order_relaxed);
  delivered_.store(delivered_.load(std::memory_order_relaxed) + filled, std::memory_order_release);
  return filled;
}

}  // namespace poolflow::net
