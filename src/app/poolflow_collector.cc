// poolflow-collector: conf → outputs → collector → listeners, then waits for
// signals. Everything else lives in src/collector and drivers/transport.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <ctime>

#include "collector/collector.h"
#include "collector/file_output.h"
#include "collector/jsonl_output.h"
#include "conf/collector_conf.h"
#include "conf/program_options.h"
#include "poolflow/listener.h"

using namespace poolflow;

namespace {

constexpr int kExitRuntimeError = 1;

std::vector<std::unique_ptr<collector::Output>> open_outputs(const conf::CollectorConf& c) {
  std::vector<std::unique_ptr<collector::Output>> outputs;
  for (const std::string& spec : c.write.outputs) {
    const std::string where = spec.substr(spec.find(':') + 1);
    if (spec.starts_with("file:"))
      outputs.push_back(std::make_unique<collector::FileOutput>(
          spec, where, uint64_t{c.write.file_rotate_mib} << 20, c.write.file_rotate_s));
    else
      outputs.push_back(std::make_unique<collector::JsonlOutput>(spec, where));
  }
  return outputs;
}

int run(const conf::CollectorConf& c) {
  // Every thread started from here on (usrsctp's, the listeners') inherits
  // this mask, so the signals reach the sigtimedwait() below only.
  sigset_t signals;
  sigemptyset(&signals);
  for (const int s : {SIGINT, SIGTERM, SIGUSR1}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  collector::CollectorConfig config;
  config.limits.max_templates = c.decoder.max_templates_per_session;
  config.limits.max_fields = c.decoder.max_fields_per_template;
  config.max_sequence_keys = c.decoder.max_sequence_keys;
  config.closed_sessions_kept = c.decoder.closed_sessions_kept;
  std::unique_ptr<collector::Collector> collector;
  try {
    collector = std::make_unique<collector::Collector>(config, open_outputs(c));
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

  std::time_t last_stats = std::time(nullptr);
  for (;;) {
    const timespec one_second{1, 0};
    const int sig = sigtimedwait(&signals, nullptr, &one_second);
    collector->tick();
    if (sig == SIGUSR1) fmt::print("{}", collector->report());
    std::fflush(stdout);
    if (sig == SIGINT || sig == SIGTERM) {
      spdlog::info("signal {}: closing", sig);
      break;
    }
    if (c.log.stats_interval_s != 0 && std::time(nullptr) - last_stats >= c.log.stats_interval_s) {
      const collector::ExporterStats t = collector->totals();
      spdlog::info("messages {} records {} lost {} discarded {}", t.messages, t.records,
                   t.lost_records, t.discarded_messages);
      last_stats = std::time(nullptr);
    }
  }
  listeners.clear();  // no message arrives after this
  collector->tick();
  fmt::print("{}", collector->report());
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"poolflow-collector: IPFIX collector over SCTP (usrsctp), TCP and UDP"};
  conf::ProgramOptions options;
  conf::CollectorOverrides overrides;
  conf::add_program_options(app, options, overrides.sets);
  app.add_option("--listen", overrides.listens,
                 "sctp:HOST:PORT, tcp:HOST:PORT or udp:HOST:PORT (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--write", overrides.writes, "file:DIRECTORY or jsonl:PATH (repeatable)")
      ->allow_extra_args(false);
  if (const auto rc = conf::parse_command_line(app, argc, argv, "poolflow-collector")) return *rc;
  conf::CollectorConf c;
  try {
    c = conf::load_collector_conf(options.conf_path, overrides);
  } catch (const conf::ConfError& e) {
    fmt::print(stderr, "poolflow-collector: {}\n", e.what());
    return conf::kExitConfError;
  }
  conf::setup_logging("poolflow-collector", c.log.level, options.verbosity);
  if (options.check_conf) {
    fmt::print("{}: configuration OK\n",
               options.conf_path.empty() ? "defaults" : options.conf_path);
    return 0;
  }
  // usrsctp keeps threads and callbacks until the process ends: leave without
  // running destructors that would race them.
  std::fflush(nullptr);
  std::_Exit(run(c));
}
