#include "collector/run_loop.h"
#include "collector/merge.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <ctime>

#include "collector/collector.h"
#include "collector/file_output.h"
#include "collector/jsonl_output.h"
#include "collector/pool_membership.h"
#include "conf/program_options.h"
#include "poolflow/clock.h"
#include "poolflow/listener.h"
#include "poolflow/transport.h"

namespace poolflow::collector {

namespace {

constexpr int kExitRuntimeError = 1;

std::vector<std::unique_ptr<Output>> open_outputs(const conf::CollectorConf& c) {
  std::vector<std::unique_ptr<Output>> outputs;
  for (const std::string& spec : c.write.outputs) {
    const std::string where = spec.substr(spec.find(':') + 1);
    if (spec.starts_with("file:"))
      outputs.push_back(std::make_unique<FileOutput>(
          spec, where, uint64_t{c.write.file_rotate_mib} << 20, c.write.file_rotate_s));
    else
      outputs.push_back(std::make_unique<JsonlOutput>(spec, where));
  }
  return outputs;
}

// The registrations a pool element makes: one per listener, as the listener
// was given (a wildcard host is replaced by the address the registrar sees).
std::vector<conf::Target> endpoints_of(const conf::CollectorConf& c) {
  std::vector<conf::Target> out;
  for (const std::string& spec : c.listen.endpoints) {
    conf::Target e;
    e.kind = spec.substr(0, spec.find(':'));
    std::string error;
    split_host_port(spec.substr(spec.find(':') + 1), e.host, e.port, error);
    e.udp_encaps_port = c.sctp.raw_ip ? 0 : c.sctp.udp_encaps_port;
    out.push_back(e);
  }
  return out;
}

}  // namespace

// Tells each SCTP exporter what of its records is written out (storage_cookie.h).
void confirm_storage(Collector& collector, const std::vector<std::unique_ptr<Listener>>& listeners,
                     uint32_t collector_pe) {
  for (const auto& [session, cookie] : collector.storage_confirmations(collector_pe))
    for (const auto& listener : listeners)
      if (listener->send_control(session, kSctpPpidAsap, cookie)) break;
}

int run_merge(const conf::CollectorConf& c, const std::vector<std::string>& directories) {
  if (c.write.outputs.empty()) {
    fmt::print(stderr, "poolflow-collector: --merge needs --write (where the merged set goes)\n");
    return conf::kExitConfError;
  }
  try {
    const MergeStats m = merge(directories, open_outputs(c));
    fmt::print(
        "merged {} files: {} flow records in {} messages written; {} replayed records read, {} of "
        "them left out as stored already; {} messages discarded (undecodable, or cut off at the "
        "end of a file by a collector that was killed)\n",
        m.files, m.records, m.messages, m.replayed, m.duplicates, m.discarded_messages);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "poolflow-collector: --merge: {}\n", e.what());
    return kExitRuntimeError;
  }
}

int run(const conf::CollectorConf& c) {
  const sigset_t signals = conf::block_operator_signals();

  CollectorConfig config;
  config.limits.max_templates = c.decoder.max_templates_per_session;
  config.limits.max_fields = c.decoder.max_fields_per_template;
  config.max_sequence_keys = c.decoder.max_sequence_keys;
  config.closed_sessions_kept = c.decoder.closed_sessions_kept;
  std::unique_ptr<Collector> collector;
  try {
    collector = std::make_unique<Collector>(config, open_outputs(c));
  } catch (const std::exception& e) {
    fmt::print(stderr, "poolflow-collector: write.outputs: {}\n", e.what());
    return conf::kExitConfError;
  }

  ListenerOptions options;
  options.sctp_udp_port = c.sctp.udp_encaps_port;
  options.sctp_raw_ip = c.sctp.raw_ip;
  options.sctp_streams = c.sctp.streams;
  options.receive_buffer_kib = c.listen.receive_buffer_kib;
  options.max_sessions = c.listen.max_sessions;
  options.udp_idle_timeout_s = c.listen.udp_idle_timeout_s;
  std::vector<std::unique_ptr<Listener>> listeners;
  std::vector<std::string> described;
  try {
    for (const std::string& spec : c.listen.endpoints) {
      listeners.push_back(open_listener(spec, options, *collector));
      described.push_back(listeners.back()->description());
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "poolflow-collector: listen.endpoints: {}\n", e.what());
    return kExitRuntimeError;
  }
  spdlog::info("listening on {}; writing {}", fmt::join(described, ", "),
               c.write.outputs.empty() ? "nothing (statistics only)"
                                       : fmt::format("{}", fmt::join(c.write.outputs, ", ")));

  std::unique_ptr<PoolMembership> pool;
  if (!c.pool.handle.empty()) {
    transport::SctpMessageOptions sctp;
    sctp.local_udp_port = c.sctp.udp_encaps_port;
    sctp.raw_ip = c.sctp.raw_ip;
    try {
      pool = std::make_unique<PoolMembership>(c.pool, endpoints_of(c), sctp);
    } catch (const std::exception& e) {
      fmt::print(stderr, "poolflow-collector: pool: {}\n", e.what());
      return kExitRuntimeError;
    }
    pool->start(steady_ms());
    spdlog::info("pool element of {} through registrar {}", c.pool.handle,
                 fmt::join(c.pool.registrars, ", "));
  }

  std::time_t last_stats = std::time(nullptr);
  uint64_t next_tick = steady_ms() + 1000;
  const uint32_t confirm_ms = c.write.confirm_interval_ms;
  uint64_t next_confirm = steady_ms() + confirm_ms;
  for (;;) {
    // A pool element answers its registrar within tens of milliseconds.
    const long wait_ns = std::min<long>(pool ? 20'000'000 : 1'000'000'000,
                                        confirm_ms != 0 ? confirm_ms * 1'000'000L : 1'000'000'000);
    const timespec wait{wait_ns / 1'000'000'000, wait_ns % 1'000'000'000};
    const int sig = sigtimedwait(&signals, nullptr, &wait);
    if (pool) pool->poll(steady_ms(), collector->totals().records);
    if (confirm_ms != 0 && steady_ms() >= next_confirm) {
      confirm_storage(*collector, listeners, pool ? pool->pe_id() : 0);
      next_confirm = steady_ms() + confirm_ms;
    }
    if (steady_ms() >= next_tick || sig > 0) {
      collector->tick();
      next_tick = steady_ms() + 1000;
    }
    if (sig == SIGUSR1) fmt::print("{}{}", collector->report(), pool ? pool->report() : "");
    std::fflush(stdout);
    if (sig == SIGINT || sig == SIGTERM) {
      spdlog::info("signal {}: closing", sig);
      break;
    }
    if (c.log.stats_interval_s != 0 && std::time(nullptr) - last_stats >= c.log.stats_interval_s) {
      const ExporterStats t = collector->totals();
      spdlog::info("messages {} records {} lost {} discarded {}", t.messages, t.records,
                   t.lost_records, t.discarded_messages);
      last_stats = std::time(nullptr);
    }
  }
  // Out of the pool first, so that no pool user picks a collector that is going.
  if (pool) pool->stop(1000);
  // What came last is written out and confirmed before the associations go.
  if (confirm_ms != 0) confirm_storage(*collector, listeners, pool ? pool->pe_id() : 0);
  listeners.clear();  // no message arrives after this
  collector->tick();
  fmt::print("{}{}", collector->report(), pool ? pool->report() : "");
  std::fflush(stdout);
  return 0;
}

}  // namespace poolflow::collector
