#include "control/stats_report.h"

#include <fmt/format.h>
#include <rte_ethdev.h>

#include <algorithm>
#include <mutex>

namespace poolflow::control {

namespace {

constexpr const char* kEndReasonNames[] = {
    "", "idle", "active", "end_of_flow", "forced_end", "lack_of_resources"};

// "a 3, b 5" for the non-zero counters, or "none".
template <class Names>
std::string breakdown(const std::vector<uint64_t>& counts, const Names& names, size_t first = 0) {
  std::string out;
  for (size_t i = first; i < counts.size(); ++i) {
    if (counts[i] == 0) continue;
    if (!out.empty()) out += ", ";
    out += fmt::format("{} {}", names[i], counts[i]);
  }
  return out.empty() ? "none" : out;
}

}  // namespace

MeterTotals sum_worker_stats(const Pipeline& pipeline) {
  MeterTotals t;
  t.ignored.resize(static_cast<size_t>(meter::IgnoreReason::count_));
  t.flows_ended.resize(std::size(kEndReasonNames));
  for (const auto& worker : pipeline.workers) {
    const meter::WorkerStats& s = worker->stats();
    t.rx_packets += s.rx_packets.get();
    t.rx_octets += s.rx_octets.get();
    t.parsed_packets += s.parsed_packets.get();
    for (size_t i = 0; i < t.ignored.size(); ++i) t.ignored[i] += s.ignored[i].get();
    t.ignored_octets += s.ignored_octets.get();
    // The worker writes first, then last: read last first, so as never to see a
    // last older than the first.
    const uint64_t last_ignored_ms = s.last_ignored_ms.get();
    t.ignored_window.merge({s.first_ignored_ms.get(), last_ignored_ms});
    t.flows_created += s.flows_created.get();
    t.active_flows += worker->active_flows();
    for (size_t i = 0; i < t.flows_ended.size(); ++i) t.flows_ended[i] += s.flows_ended[i].get();
    t.records_queued += s.records_queued.get();
    t.ring_drops += s.ring_drops.get();
    t.expiry_lateness_max_ms = std::max(t.expiry_lateness_max_ms, s.expiry_lateness_max_ms.get());
  }
  return t;
}

void publish_metering_reliability(Pipeline& pipeline, bool read_ports_now) {
  PortDrops& d = pipeline.port_drops;
  const uint64_t now = steady_ms();
  if (read_ports_now || now >= d.next_read_ms) {
    d.next_read_ms = now + pipeline.port_stats_interval_ms;
    uint64_t missed = 0, no_mbuf = 0;
    for (uint16_t port : pipeline.port_ids) {
      rte_eth_stats stats{};
      if (rte_eth_stats_get(port, &stats) == 0) {
        missed += stats.imissed + stats.ierrors;
        no_mbuf += stats.rx_nombuf;
      }
    }
    // Dropped packets have no time of their own: dated by the read that saw them.
    if (missed + no_mbuf > d.missed + d.no_mbuf) d.window.note(unix_ms());
    d.missed = missed;
    d.no_mbuf = no_mbuf;
  }
  const MeterTotals t = sum_worker_stats(pipeline);
  exporter::MeteringReliability m;
  for (uint64_t n : t.ignored) m.ignored_packets += n;
  m.ignored_packets += d.missed + d.no_mbuf;
  m.ignored_octets = t.ignored_octets;
  TimeWindow window = t.ignored_window;
  window.merge(d.window);
  m.first_ignored_ms = window.first_ms;
  m.last_ignored_ms = window.last_ms;
  pipeline.metering->publish(m);
}

std::string progress_line(const MeterTotals& now, const MeterTotals& before, double seconds) {
  const double pps = static_cast<double>(now.rx_packets - before.rx_packets) / seconds;
  const double bps = static_cast<double>(now.rx_octets - before.rx_octets) * 8 / seconds;
  return fmt::format(
      "rx {:.0f} pkt/s {:.1f} Mbit/s | packets {} ignored {} | flows active {} created {} | "
      "records queued {} ring drops {}",
      pps, bps / 1e6, now.rx_packets, now.rx_packets - now.parsed_packets, now.active_flows,
      now.flows_created, now.records_queued, now.ring_drops);
}

std::string pool_progress(const PoolOutput& pool) {
  const rserpool::PoolUserStats& u = pool.user().stats();
  return fmt::format(
      " | pool {}: cached {} exporting {} selected {} unreachable {} resolutions {} home {}",
      pool.handle(), pool.user().cache().size(), pool.stats().exporting.get(),
      pool.stats().selected.get(), pool.stats().unreachable.get(), u.resolutions_sent,
      pool.user().home() ? fmt::format("#{}", *pool.user().home()) : std::string("none"));
}

std::string exit_summary(const Pipeline& pipeline, double run_seconds) {
  const MeterTotals t = sum_worker_stats(pipeline);
  const PortDrops& drops = pipeline.port_drops;  // as last read, at the end of the run
  uint64_t ended = 0;
  for (uint64_t n : t.flows_ended) ended += n;

  std::string out = "poolflowd summary\n";
  out += fmt::format("  packets received  {} ({} octets) in {:.3f} s: {:.0f} packets/s\n",
                     t.rx_packets, t.rx_octets, run_seconds,
                     run_seconds > 0 ? static_cast<double>(t.rx_packets) / run_seconds : 0.0);
  for (const auto& worker : pipeline.workers) {
    std::string queues;
    for (const meter::RxQueue& q : worker->config().queues)
      queues += fmt::format("{}{}/{}", queues.empty() ? "" : " ", q.port, q.queue);
    out += fmt::format(
        "  worker {}          {} packets, {} flows created (port/queue: {}), {:.3f} s CPU\n",
        worker->config().id, worker->stats().rx_packets.get(), worker->stats().flows_created.get(),
        queues.empty() ? "none" : queues, worker->cpu_seconds());
  }
  out += fmt::format("  packets parsed    {}\n", t.parsed_packets);
  out += fmt::format("  packets ignored   {} ({})\n", t.rx_packets - t.parsed_packets,
                     breakdown(t.ignored, meter::kIgnoreReasonNames));
  out += fmt::format("  port drops        {} (missed/errors {}, no mbuf {})\n",
                     drops.missed + drops.no_mbuf, drops.missed, drops.no_mbuf);
  out += fmt::format("  flows created     {}\n", t.flows_created);
  out += fmt::format("  flows ended       {} ({})\n", ended,
                     breakdown(t.flows_ended, kEndReasonNames, 1));
  out += fmt::format("  expiry lateness   {} ms at most past an idle or active timeout\n",
                     t.expiry_lateness_max_ms);
  out += fmt::format("  records queued    {} (ring drops {})\n", t.records_queued, t.ring_drops);
  out += fmt::format("  records received  {} by the aggregation thread\n",
                     pipeline.aggregator->records_received());
  for (const auto& exporter : pipeline.aggregator->exporters()) {
    const exporter::ExportStats& s = exporter->stats();
    out += fmt::format(
        "  exported to {}: {} records in {} messages ({} octets, {} template "
        "messages), {} messages not sent ({} records, {} of them reliable), {} abandoned by the "
        "transport ({} records sent and given back undelivered), {} transport sessions\n",
        exporter->transport().name(), s.records_sent.get(), s.messages_sent.get(),
        s.octets_sent.get(), s.template_messages_sent.get(), s.messages_not_sent.get(),
        s.records_not_sent.get(), s.reliable_records_not_sent.get(),
        exporter->abandoned_by_transport(), s.records_returned.get(), s.transport_sessions.get());
    if (exporter->replays()) {
      const exporter::ReplayTotals r = exporter->replay_totals();
      out += fmt::format(
          "    replay buffer: {} records held, {} confirmed stored ({} storage confirmations), {} "
          "replayed, {} left unconfirmed ({} for lack of room, {} by age); {} cookie echoes\n",
          r.held, r.confirmed, s.storage_confirmations.get(), r.replayed,
          r.evicted_full + r.evicted_old, r.evicted_full, r.evicted_old, s.cookie_echoes.get());
    }
  }
  if (pipeline.pool) {
    const PoolOutput& pool = *pipeline.pool;
    const rserpool::PoolUserStats& u = pool.user().stats();
    out += fmt::format(
        "  pool {}: {} resolutions sent ({} answered with elements, {} without, {} unanswered), "
        "{} registrar associations lost, home registrar chosen {} times (the first included), {} "
        "selections, "
        "{} transports handed over, {} elements reported unreachable, {} announces ({} bad)\n",
        pool.handle(), u.resolutions_sent, u.resolved, u.empty, u.unanswered, u.associations_lost,
        u.rehomed, pool.stats().selected.get(), pool.stats().exporting.get(),
        u.reported_unreachable, pool.stats().announces.get(), pool.stats().bad_announces.get());
  }
  return out;
}

}  // namespace poolflow::control
