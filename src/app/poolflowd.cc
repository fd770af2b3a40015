// poolflowd: conf → EAL → ports → rings → lcores. Everything else lives in the
// modules; this file only wires them together.
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_ring.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <functional>

#include "conf/poolflowd_conf.h"
#include "conf/program_options.h"
#include "control/control_loop.h"
#include "control/stats_report.h"
#include "net/eal_args.h"
#include "net/pcap_player.h"
#include "net/ports.h"

using namespace poolflow;

namespace {

constexpr int kExitRuntimeError = 1;

std::atomic<int> g_signal{0};

void on_signal(int sig) { g_signal.store(sig); }

// The exporters, output by output: an SCTP output and each of a pool
// output's pool.sessions wait for their first transport from the control core
// (so an unreachable collector does not stop poolflowd from starting); files,
// TCP and UDP open here. `groups` says which exporters share an output's records.
std::vector<std::unique_ptr<exporter::Exporter>> open_outputs(
    const conf::PoolflowdConf& c, std::shared_ptr<const exporter::MeteringSnapshot> metering,
    std::vector<exporter::ExporterGroup>& groups) {
  std::vector<std::unique_ptr<exporter::Exporter>> exporters;
  exporter::ExporterConfig config;
  config.metering_reliability = std::move(metering);
  config.observation_domain = c.export_.observation_domain_id;
  config.max_message_length = c.export_.max_message_size;
  std::string unused;  // checked when the conf was loaded
  config.tcp_flows = parse_reliability(c.export_.tcp_flows, unused);
  config.other_flows = parse_reliability(c.export_.other_flows, unused);
  config.templates_on_stream_zero = c.export_.templates_on_stream_zero;
  config.send_queue_bytes = size_t{c.export_.send_queue_kib} * 1024;
  config.close_timeout_ms = c.export_.close_timeout_ms;
  config.statistics_interval_ms = c.export_.statistics_interval_s * 1000;
  for (const std::string& output : c.export_.outputs) {
    exporter::ExporterGroup group{
        exporters.size(),
        output.starts_with(conf::kPoolOutputPrefix) ? size_t{c.pool.sessions} : size_t{1}, nullptr};
    if (group.count > 1) {
      group.shares = std::make_shared<exporter::ShareTable>();
      group.shares->assign(std::vector<uint64_t>(group.count, 0));
    }
    if (output.starts_with(conf::kPoolOutputPrefix) || output.starts_with("sctp:")) {
      // Only a collector over SCTP confirms what it stored (ASAP on PPID 11).
      exporter::ExporterConfig sctp = config;
      sctp.replay_buffer_bytes = size_t{c.export_.replay_buffer_mib} << 20;
      sctp.replay_buffer_ms = c.export_.replay_buffer_s * 1000;
      for (size_t i = 0; i < group.count; ++i)
        exporters.push_back(std::make_unique<exporter::Exporter>(output, sctp));
    } else {
      exporters.push_back(
          std::make_unique<exporter::Exporter>(open_transport(output, c.transport), config));
    }
    groups.push_back(group);
  }
  return exporters;
}

net::EalPlan eal_plan(const conf::PoolflowdConf& c, int verbosity) {
  net::EalPlan plan;
  plan.control_core = c.cpu.control_core;
  plan.aggregator_core = c.cpu.aggregator_core;
  plan.worker_cores = c.cpu.worker_cores;
  plan.memory_mb = c.eal.memory_mb;
  plan.hugepages = c.eal.hugepages;
  plan.file_prefix = c.eal.file_prefix;
  plan.devices = c.input.devices;
  plan.verbose = verbosity > 0;
  plan.extra_args = c.eal.extra_args;
  return plan;
}

// RX queues are dealt round robin over all ports, so that single-queue ports
// (no RSS) still spread over the workers; played back captures likewise.
meter::WorkerConfig worker_config(const conf::PoolflowdConf& c, unsigned id,
                                  const std::vector<net::Port>& ports,
                                  const std::vector<std::unique_ptr<net::PcapPlayer>>& players) {
  meter::WorkerConfig w;
  w.id = id;
  const size_t workers = c.cpu.worker_cores.size();
  size_t k = 0;
  for (const net::Port& port : ports)
    for (uint16_t q = 0; q < port.rx_queues; ++q, ++k)
      if (k % workers == id) w.queues.push_back({port.id, q, nullptr});
  for (size_t r = 0; r < players.size(); ++r, ++k)
    if (k % workers == id) w.queues.push_back({static_cast<uint16_t>(r), 0, players[r].get()});
  w.flow_capacity = c.meter.flow_table_size;
  w.biflow = c.meter.biflow;
  w.timeouts.idle_ms = uint64_t{c.meter.idle_timeout_s} * 1000;
  w.timeouts.active_ms = uint64_t{c.meter.active_timeout_s} * 1000;
  w.timeouts.tcp_end_grace_ms = c.meter.tcp_end_grace_ms;
  w.expiry_slots_per_poll = c.meter.expiry_slots_per_poll;
  w.playback = !c.input.pcaps.empty();
  return w;
}

// A line per capture for the exit summary. Packets cut by a capture's snap
// length are played back as captured: their IP length runs past the frame, so the
// parser ignores them; said once, at the end.
std::string playback_summary(const std::vector<std::unique_ptr<net::PcapPlayer>>& players) {
  std::string out;
  for (const auto& player : players) {
    if (player->cut() != 0)
      spdlog::warn(
          "{}: {} of {} packets were cut by the capture's snap length: only the captured "
          "bytes are played back, so their IP length runs past the frame and they are counted "
          "as ignored (ipv4/ipv6_bad_length)",
          player->path(), player->cut(), player->delivered());
    out += fmt::format("  played back       {}: {} packets ({} cut by the snap length){}\n",
                       player->path(), player->delivered(), player->cut(),
                       player->damaged() ? "; ended at a damaged record" : "");
  }
  return out;
}

int run(const conf::PoolflowdConf& c, int verbosity) {
  control::Pipeline pipeline;
  std::vector<net::Port> ports;
  // Playback: capture i is metered as ingress port i (there are no DPDK ports then).
  std::vector<std::unique_ptr<net::PcapPlayer>> players;
  std::vector<std::unique_ptr<exporter::Exporter>> exporters;
  std::vector<exporter::ExporterGroup> groups;
  try {
    for (const std::string& pcap : c.input.pcaps)
      players.push_back(std::make_unique<net::PcapPlayer>(pcap));
  } catch (const std::exception& e) {
    fmt::print(stderr, "poolflowd: input.pcaps: {}\n", e.what());
    return conf::kExitConfError;
  }
  try {
    // Statistics records tell the collectors what the workers could not meter.
    exporters = open_outputs(c, pipeline.metering, groups);
  } catch (const std::exception& e) {
    fmt::print(stderr, "poolflowd: export.outputs: {}\n", e.what());
    return conf::kExitConfError;
  }

  std::vector<std::string> eal_args = net::build_eal_args(eal_plan(c, verbosity));
  std::vector<char*> eal_argv;
  for (std::string& arg : eal_args) eal_argv.push_back(arg.data());
  spdlog::debug("EAL arguments: {}", fmt::join(eal_args, " "));
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    fmt::print(stderr, "poolflowd: EAL initialisation failed: {}\n", rte_strerror(rte_errno));
    return kExitRuntimeError;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  std::vector<rte_ring*> rings;
  try {
    net::PortSettings settings;
    settings.rx_queues = static_cast<uint16_t>(c.cpu.worker_cores.size());
    settings.rx_descriptors = static_cast<uint16_t>(c.input.rx_descriptors);
    settings.mbuf_pool_size = c.input.mbuf_pool_size;
    settings.mbuf_cache_size = c.input.mbuf_cache_size;
    settings.promiscuous = c.input.promiscuous;
    // input.mbuf_pool_size is for the ports' RX rings: a playback has none, and a
    // pool that large would only cost start-up time.
    if (!players.empty())
      settings.mbuf_pool_size =
          net::PcapPlayer::pool_size(static_cast<unsigned>(c.cpu.worker_cores.size()),
                                     settings.mbuf_cache_size, meter::kBurstSize);
    rte_mempool* pool = net::create_mbuf_pool(settings);
    if (players.empty()) ports = net::start_ports(settings, pool);
    for (size_t r = 0; r < players.size(); ++r) {
      players[r]->set_speed(c.input.pcap_speed_percent / 100.0);
      players[r]->start(pool, static_cast<uint16_t>(r));
    }
    for (const net::Port& port : ports) pipeline.port_ids.push_back(port.id);
    pipeline.port_stats_interval_ms = c.input.port_stats_interval_ms;

    for (unsigned id = 0; id < c.cpu.worker_cores.size(); ++id) {
      const std::string name = "flow_records_" + std::to_string(id);
      rte_ring* ring = rte_ring_create_elem(name.c_str(), sizeof(FlowRecord), c.meter.ring_size,
                                            static_cast<int>(rte_socket_id()),
                                            RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ);
      if (ring == nullptr)
        throw std::runtime_error("cannot create ring " + name + ": " + rte_strerror(rte_errno));
      rings.push_back(ring);
      pipeline.workers.push_back(std::make_unique<meter::Worker>(
          worker_config(c, id, ports, players), ring, pipeline.stop_workers));
      if (pipeline.workers.back()->config().queues.empty())
        spdlog::warn("worker {} (core {}) has nothing to poll: there are fewer {} than workers", id,
                     c.cpu.worker_cores[id], players.empty() ? "port queues" : "captures to play");
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "poolflowd: {}\n", e.what());
    rte_eal_cleanup();
    return kExitRuntimeError;
  }
  pipeline.aggregator = std::make_unique<exporter::Aggregator>(
      exporter::AggregatorConfig{c.export_.flush_interval_ms}, rings, std::move(exporters),
      pipeline.stop_aggregator, groups);

  pipeline.outputs = std::make_unique<control::OutputKeeper>(c.transport, pipeline.events);
  if (!c.pool.handle.empty()) {
    std::vector<exporter::Exporter*> members;
    std::shared_ptr<exporter::ShareTable> shares;
    for (const exporter::ExporterGroup& group : groups)
      if (pipeline.aggregator->exporters()[group.first]->output() ==
          std::string(conf::kPoolOutputPrefix) + c.pool.handle) {
        for (size_t i = 0; i < group.count; ++i)
          members.push_back(pipeline.aggregator->exporters()[group.first + i].get());
        shares = group.shares;
      }
    try {
      pipeline.pool = std::make_unique<control::PoolOutput>(c, members, shares, pipeline.events);
    } catch (const std::exception& e) {
      // Only the announce socket can fail here: the static list still serves.
      spdlog::warn("pool {}: {}", c.pool.handle, e.what());
      if (c.pool.registrars.empty()) {
        fmt::print(stderr, "poolflowd: pool.announces: {}\n", e.what());
        rte_eal_cleanup();
        return kExitRuntimeError;
      }
      conf::PoolflowdConf without_announces = c;
      without_announces.pool.announces = false;
      pipeline.pool = std::make_unique<control::PoolOutput>(without_announces, members, shares,
                                                            pipeline.events);
    }
  }

  spdlog::info(
      "{} worker(s) on core(s) {}, aggregation on core {}, control on core {}; input {}; "
      "output {}",
      pipeline.workers.size(), fmt::join(c.cpu.worker_cores, ","), c.cpu.aggregator_core,
      c.cpu.control_core,
      c.input.pcaps.empty() ? fmt::format("{}", fmt::join(c.input.devices, ","))
                            : fmt::format("{} (playback)", fmt::join(c.input.pcaps, ",")),
      fmt::join(c.export_.outputs, ","));

  bool launched =
      rte_eal_remote_launch([](void* a) { return static_cast<exporter::Aggregator*>(a)->run(); },
                            pipeline.aggregator.get(), net::kAggregatorLcore) == 0;
  for (unsigned id = 0; id < pipeline.workers.size() && launched; ++id)
    launched = rte_eal_remote_launch([](void* w) { return static_cast<meter::Worker*>(w)->run(); },
                                     pipeline.workers[id].get(), net::kFirstWorkerLcore + id) == 0;
  if (!launched) {
    fmt::print(stderr, "poolflowd: cannot start a thread on its lcore\n");
    pipeline.stop_workers.store(true);
    pipeline.stop_aggregator.store(true);
    rte_eal_mp_wait_lcore();
    rte_eal_cleanup();
    return kExitRuntimeError;
  }

  const double run_seconds = control::run_control_loop(pipeline, c.log.stats_interval_s, g_signal);
  rte_eal_mp_wait_lcore();

  fmt::print("{}{}", control::exit_summary(pipeline, run_seconds), playback_summary(players));
  std::fflush(stdout);
  // What was read has been exported; a script should still learn that a capture
  // was damaged.
  const bool damaged = std::any_of(players.begin(), players.end(),
                                   [](const auto& player) { return player->damaged(); });
  if (damaged) fmt::print(stderr, "poolflowd: a capture ended at a damaged record (see the log)\n");

  net::stop_ports(ports);
  for (rte_ring* ring : rings) rte_ring_free(ring);
  rte_eal_cleanup();
  return damaged ? kExitRuntimeError : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"poolflowd: IPFIX flow exporter on DPDK"};
  conf::ProgramOptions options;
  conf::CommandLineOverrides overrides;
  conf::add_program_options(app, options, overrides.sets);
  app.add_option("--pcap", overrides.pcaps,
                 "play a pcap (Ethernet; classic pcap or pcapng) and exit at its end "
                 "(repeatable: one ingress port each)")
      ->allow_extra_args(false);
  app.add_option("--output", overrides.outputs, "output, e.g. file:PATH (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--pool", overrides.pool,
                 "export to the collector pool HANDLE (RSerPool), resolved at the registrars");
  app.add_option("--registrar", overrides.registrars,
                 "HOST:PORT or HOST:PORT/UDPPORT of a registrar (repeatable)")
      ->allow_extra_args(false);
  if (const auto rc = conf::parse_command_line(app, argc, argv, "poolflowd")) return *rc;

  conf::PoolflowdConf c;
  try {
    c = conf::load_poolflowd_conf(options.conf_path, overrides);
  } catch (const conf::ConfError& e) {
    fmt::print(stderr, "poolflowd: {}\n", e.what());
    return conf::kExitConfError;
  }
  // Logs go to stderr; stdout carries the exit summary only.
  conf::setup_logging("poolflowd", c.log.level, options.verbosity);
  if (options.check_conf) {
    fmt::print("{}: configuration OK\n",
               options.conf_path.empty() ? "defaults" : options.conf_path);
    // What only the network can tell.
    for (const std::string& output : c.export_.outputs)
      if (!output.starts_with("file:"))
        fmt::print("  not checked offline: whether {} can be reached\n", output);
    if (!c.pool.handle.empty())
      fmt::print("  not checked offline: whether a registrar answers for pool {}\n", c.pool.handle);
    if (!c.input.devices.empty())
      fmt::print("  not checked offline: the devices {} (EAL probes them at start)\n",
                 fmt::join(c.input.devices, ","));
    return 0;
  }
  return run(c, options.verbosity);
}
