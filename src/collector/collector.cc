#include "collector/collector.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <chrono>

#include "poolflow/byte_order.h"
#include "poolflow/clock.h"
#include "rserpool/codec.h"
#include "rserpool/storage_cookie.h"

namespace poolflow::collector {

void ExporterStats::add(const ExporterStats& o) {
  messages += o.messages;
  octets += o.octets;
  records += o.records;
  options_records += o.options_records;
  lost_records += o.lost_records;
  gaps += o.gaps;
  out_of_order += o.out_of_order;
  discarded_messages += o.discarded_messages;
  templates_added += o.templates_added;
  templates_withdrawn += o.templates_withdrawn;
  asap_messages += o.asap_messages;
  confirmations += o.confirmations;
  cookie_echoes += o.cookie_echoes;
  for (size_t i = 0; i < errors.size(); ++i) errors[i] += o.errors[i];
  if (o.first_message_us != 0 && (first_message_us == 0 || o.first_message_us < first_message_us))
    first_message_us = o.first_message_us;
  last_message_us = std::max(last_message_us, o.last_message_us);
}

double ExporterStats::records_per_second() const {
  const uint64_t span = last_message_us - first_message_us;
  return span < 1000 ? 0.0 : static_cast<double>(records) * 1e6 / static_cast<double>(span);
}

namespace {
uint64_t steady_us() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}
}  // namespace

class Collector::Visitor final : public ipfix::RecordVisitor {
 public:
  Visitor(const std::vector<std::unique_ptr<Output>>& outputs, const std::string& exporter)
      : outputs_(outputs), exporter_(exporter) {}
  void record(const ipfix::MessageHeader& header, const ipfix::DecodedTemplate& tmpl,
              std::span<const uint8_t> record) override {
    for (const auto& output : outputs_) output->record(exporter_, header, tmpl, record);
  }

 private:
  const std::vector<std::unique_ptr<Output>>& outputs_;
  const std::string& exporter_;
};

Collector::Collector(CollectorConfig config, std::vector<std::unique_ptr<Output>> outputs)
    : config_(config), reader_(config.limits), outputs_(std::move(outputs)) {
  known_templates_ = [this](const auto& write) { write_known_templates(write); };
}

void Collector::session_started(uint64_t session, const std::string& exporter) {
  std::lock_guard lock(mutex_);
  Session& s = sessions_[session];
  s.exporter = exporter;
  s.confirms = exporter.starts_with("sctp ");
  spdlog::info("session {} started: {}", session, exporter);
}

void Collector::control_message(uint64_t id, uint32_t ppid, std::span<const uint8_t> bytes) {
  std::lock_guard lock(mutex_);
  const auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  Session& s = it->second;
  ++s.stats.asap_messages;
  if (ppid == kSctpPpidAsap) asap_message(id, s, bytes);
}

void Collector::asap_message(uint64_t id, Session& s, std::span<const uint8_t> bytes) {
  const rserpool::DecodeResult r = rserpool::decode(rserpool::Protocol::asap, bytes);
  if (r.error != rserpool::DecodeError::none) {
    if (std::has_single_bit(s.stats.asap_messages))
      spdlog::warn("session {} ({}): malformed ASAP message ignored: {} (seen {} ASAP messages)",
                   id, s.exporter, r.detail, s.stats.asap_messages);
    return;
  }
  if (!r.message.is(rserpool::AsapType::cookie_echo)) {
    if (std::has_single_bit(s.stats.asap_messages))
      spdlog::info("session {} ({}): ASAP message of type {} ignored", id, s.exporter,
                   r.message.type);
    return;
  }
  // An exporter that failed over to this collector: where the last one stood.
  ++s.stats.cookie_echoes;
  const auto cookie = rserpool::decode_storage_cookie(*r.message.cookie);
  if (!cookie) {
    spdlog::info("session {} ({}): COOKIE_ECHO of another kind of collector ({} octets)", id,
                 s.exporter, r.message.cookie->size());
    return;
  }
  std::string where;
  for (const rserpool::StoredPosition& p : cookie->positions)
    where += fmt::format("{}stream {} domain {} before {}", where.empty() ? "" : ", ", p.stream,
                         p.domain, p.next_sequence);
  spdlog::info(
      "session {} ({}): failed over from collector PE {:08x} (its session {}), which had "
      "confirmed storing {}: records it did not confirm come again here, as replayed records",
      id, s.exporter, cookie->collector_pe, cookie->session, where.empty() ? "nothing" : where);
}

std::vector<std::pair<uint64_t, std::vector<uint8_t>>> Collector::storage_confirmations(
    uint32_t collector_pe) {
  std::lock_guard lock(mutex_);
  bool stored = true;
  for (const auto& output : outputs_) stored &= output->flush();
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> cookies;
  for (auto& [id, s] : sessions_) {
    if (!s.confirms) continue;
    if (!stored) {
      // Some of what came was not written: no position of these sessions can
      // be confirmed any more (the exporters keep their records and replay
      // them on their next collector).
      s.confirms = false;
      spdlog::error("session {} ({}): an output failed to write: storage no longer confirmed", id,
                    s.exporter);
      continue;
    }
    if (s.confirmed_at == s.stats.messages) continue;  // nothing new
    rserpool::StorageCookie cookie{collector_pe, id, unix_ms(), {}};
    for (const auto& [key, q] : s.sequences)
      if (q.known && cookie.positions.size() < rserpool::StorageCookie::kMaxPositions)
        cookie.positions.push_back(
            {static_cast<uint16_t>(key >> 32), static_cast<uint32_t>(key), q.next});
    s.confirmed_at = s.stats.messages;
    if (cookie.positions.empty()) continue;
    rserpool::Message m = rserpool::Message::asap(rserpool::AsapType::cookie);
    m.cookie = rserpool::encode_storage_cookie(cookie);
    cookies.emplace_back(id, rserpool::encode(m));
    ++s.stats.confirmations;
  }
  return cookies;
}

void Collector::session_ended(uint64_t session) {
  std::lock_guard lock(mutex_);
  const auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  spdlog::info("session {} ended: {}: {} records, {} lost", session, it->second.exporter,
               it->second.stats.records, it->second.stats.lost_records);
  closed_.push_back(
      {it->second.exporter + " [closed]", it->second.stats, stream_losses(it->second)});
  ++closed_count_;
  if (closed_.size() > config_.closed_sessions_kept) {
    older_closed_.add(closed_.front().stats);
    closed_.pop_front();
  }
  sessions_.erase(it);
}

bool Collector::message(uint64_t id, uint16_t stream, std::span<const uint8_t> bytes) {
  std::lock_guard lock(mutex_);
  const auto it = sessions_.find(id);
  if (it == sessions_.end()) return false;
  Session& s = it->second;
  Visitor visitor(outputs_, s.exporter);
  const ipfix::DecodeResult result = reader_.decode(bytes, s.templates, &visitor);
  s.stats.messages += 1;
  s.stats.octets += bytes.size();
  s.stats.last_message_us = steady_us();
  if (s.stats.first_message_us == 0) s.stats.first_message_us = s.stats.last_message_us;
  s.stats.records += result.data_records - result.options_records;
  s.stats.options_records += result.options_records;
  s.stats.templates_added += result.templates_added;
  s.stats.templates_withdrawn += result.templates_withdrawn;
  for (size_t i = 0; i < result.errors.size(); ++i) s.stats.errors[i] += result.errors[i];
  if (result.first_error != ipfix::DecodeError::count_) log_errors(id, s, result);
  if (result.discarded) {
    s.stats.discarded_messages += 1;
    return false;
  }
  // Outputs first: a file opened for this message starts with templates that
  // carry this message's sequence number, not the next one.
  for (const auto& output : outputs_) output->message(bytes, known_templates_);
  count_sequence(s, stream, result);
  return true;
}

void Collector::count_sequence(Session& s, uint16_t stream, const ipfix::DecodeResult& result) {
  const uint64_t key = uint64_t{stream} << 32 | result.header.observation_domain;
  auto it = s.sequences.find(key);
  if (it == s.sequences.end()) {
    if (s.sequences.size() >= config_.max_sequence_keys) return;
    it = s.sequences.emplace(key, Sequence{}).first;
  }
  Sequence& q = it->second;
  if (q.known && result.header.sequence != q.next) {
    const uint32_t ahead = result.header.sequence - q.next;
    if (ahead < (1u << 31)) {
      s.stats.lost_records += ahead;
      s.stats.gaps += 1;
      q.lost_records += ahead;
      q.gaps += 1;
    } else {
      s.stats.out_of_order += 1;
    }
  }
  // Records we could not decode leave the next number unknown.
  q.known = result.records_complete;
  q.next = result.header.sequence + result.data_records;
  q.last_message = s.stats.messages;
}

uint32_t Collector::next_sequence(const Session& s, uint32_t domain) {
  const Sequence* latest = nullptr;
  for (const auto& [key, q] : s.sequences)
    if (static_cast<uint32_t>(key) == domain && (!latest || q.last_message > latest->last_message))
      latest = &q;
  return latest ? latest->next : 0;
}

void Collector::log_errors(uint64_t id, Session& s, const ipfix::DecodeResult& result) {
  // Each kind of error is logged the 1st, 2nd, 4th, 8th... time per session:
  // a flood of bad input costs a few lines, not one per message.
  const size_t kind = static_cast<size_t>(result.first_error);
  const uint64_t count = s.stats.errors[kind];
  if (!std::has_single_bit(count)) return;
  spdlog::warn("session {} ({}): {}{} (seen {} times){}", id, s.exporter,
               ipfix::kDecodeErrorNames[kind], result.discarded ? ": message discarded" : "", count,
               result.discarded ? "" : "; the rest of the message was used");
}

void write_templates(const ipfix::TemplateStore& store,
                     const std::function<uint32_t(uint32_t)>& sequence,
                     const std::function<void(std::span<const uint8_t>)>& write) {
  // One message per (domain, set kind): the template store is ordered by domain.
  std::vector<uint8_t> message;
  uint32_t domain = 0;
  uint16_t set_id = 0;
  size_t set_start = 0;
  const auto finish = [&] {
    if (message.empty()) return;
    store_be16(&message[set_start + 2], static_cast<uint16_t>(message.size() - set_start));
    store_be16(&message[2], static_cast<uint16_t>(message.size()));
    write(message);
    message.clear();
  };
  store.for_each([&](uint32_t d, const ipfix::DecodedTemplate& t) {
    const uint16_t kind = t.scope_fields > 0 ? ipfix::kOptionsTemplateSetId : ipfix::kTemplateSetId;
    if (!message.empty() &&
        (d != domain || kind != set_id || message.size() + t.encoded.size() > 65535))
      finish();
    if (message.empty()) {
      message.resize(ipfix::kMessageHeaderLength + ipfix::kSetHeaderLength);
      store_be16(&message[0], ipfix::kVersion);
      store_be32(&message[4], static_cast<uint32_t>(std::time(nullptr)));
      store_be32(&message[8], sequence(d));
      store_be32(&message[12], d);
      set_start = ipfix::kMessageHeaderLength;
      store_be16(&message[set_start], kind);
      domain = d;
      set_id = kind;
    }
    message.insert(message.end(), t.encoded.begin(), t.encoded.end());
  });
  finish();
}

void Collector::write_known_templates(
    const std::function<void(std::span<const uint8_t>)>& write) const {
  // Templates do not advance the sequence number: theirs is that of the
  // domain's next message, so the file (and the files together) stay a valid
  // stream (RFC 7011 §3.1).
  for (const auto& [id, s] : sessions_)
    write_templates(
        s.templates, [&s](uint32_t domain) { return next_sequence(s, domain); }, write);
}

void Collector::tick() {
  std::lock_guard lock(mutex_);
  for (const auto& output : outputs_) output->tick(known_templates_);
}

namespace {

std::string errors_text(const ExporterStats& s) {
  std::string out;
  for (size_t i = 0; i < s.errors.size(); ++i)
    if (s.errors[i] != 0)
      out +=
          fmt::format("{}{} {}", out.empty() ? "" : ", ", ipfix::kDecodeErrorNames[i], s.errors[i]);
  return out.empty() ? "none" : out;
}

std::string stats_line(const std::string& who, const ExporterStats& s) {
  return fmt::format(
      "  {}: messages {} ({} octets), records {}, lost {} in {} gaps, out of order {}, discarded "
      "messages {}, templates {} (withdrawn {}), options records {}, {:.0f} records/s over {:.3f} "
      "s, ASAP messages {} (cookie echoes {}), storage confirmations {}, errors: {}\n",
      who, s.messages, s.octets, s.records, s.lost_records, s.gaps, s.out_of_order,
      s.discarded_messages, s.templates_added, s.templates_withdrawn, s.options_records,
      s.records_per_second(), static_cast<double>(s.last_message_us - s.first_message_us) / 1e6,
      s.asap_messages, s.cookie_echoes, s.confirmations, errors_text(s));
}

}  // namespace

std::string Collector::stream_losses(const Session& s) {
  constexpr size_t kMaxLines = 16;
  std::string out;
  size_t lines = 0, more = 0;
  for (const auto& [key, q] : s.sequences) {
    if (q.gaps == 0) continue;
    if (++lines > kMaxLines) {
      ++more;
      continue;
    }
    out += fmt::format("    stream {} domain {}: lost {} in {} gaps\n", key >> 32,
                       static_cast<uint32_t>(key), q.lost_records, q.gaps);
  }
  if (more > 0) out += fmt::format("    and {} more streams with loss\n", more);
  return out;
}

ExporterStats Collector::totals() const {
  std::lock_guard lock(mutex_);
  ExporterStats total = older_closed_;
  for (const auto& [id, s] : sessions_) total.add(s.stats);
  for (const ClosedSession& c : closed_) total.add(c.stats);
  return total;
}

std::string Collector::report() const {
  const ExporterStats total = totals();
  std::lock_guard lock(mutex_);
  std::string out = fmt::format("poolflow-collector statistics: {} sessions open, {} closed\n",
                                sessions_.size(), closed_count_);
  for (const auto& [id, s] : sessions_) out += stats_line(s.exporter, s.stats) + stream_losses(s);
  for (const ClosedSession& c : closed_) out += stats_line(c.exporter, c.stats) + c.stream_losses;
  if (closed_count_ > closed_.size())
    out += stats_line(fmt::format("{} older closed sessions", closed_count_ - closed_.size()),
                      older_closed_);
  out += stats_line("total", total);
  return out;
}

}  // namespace poolflow::collector
