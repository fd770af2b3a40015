// poolflow-collector --register-only: a pool element on behalf of collectors
// that do not speak ASAP (nfcapd, for one). The registrar audits this process;
// this process checks the collectors and takes each out of its pool while it
// fails its checks.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <ctime>
#include <memory>
#include <vector>

#include "collector/pool_membership.h"
#include "collector/run_loop.h"
#include "collector/target_check.h"
#include "conf/program_options.h"
#include "poolflow/clock.h"

namespace poolflow::collector {

int run_register_only(const conf::CollectorConf& c) {
  const sigset_t signals = conf::block_operator_signals();

  TargetCheckOptions options;
  options.interval_ms = c.pool.check_interval_ms;
  options.failures = c.pool.check_failures;
  // This process listens for nothing: its SCTP (to registrars and to SCTP
  // targets) takes any free UDP encapsulation port.
  options.sctp.local_udp_port = 0;
  options.sctp.raw_ip = c.sctp.raw_ip;

  std::vector<conf::Target> endpoints;
  std::vector<std::unique_ptr<TargetCheck>> checks;
  std::unique_ptr<PoolMembership> pool;
  try {
    for (const std::string& text : c.pool.targets) {
      conf::Target t;
      conf::parse_target(text, t);  // checked with the conf
      endpoints.push_back(t);
      checks.push_back(std::make_unique<TargetCheck>(t, options));
    }
    pool = std::make_unique<PoolMembership>(c.pool, endpoints, options.sctp);
  } catch (const std::exception& e) {
    fmt::print(stderr, "poolflow-collector: pool: {}\n", e.what());
    return 1;
  }
  // Nothing is registered before its first check passes.
  const uint64_t start = steady_ms();
  for (size_t i = 0; i < checks.size(); ++i) pool->set_available(i, false, start);
  pool->start(start);
  spdlog::info("registering {} in pool {} through registrar {}", fmt::join(c.pool.targets, ", "),
               c.pool.handle, fmt::join(c.pool.registrars, ", "));

  std::time_t last_stats = std::time(nullptr);
  for (;;) {
    const timespec wait{0, 10'000'000};
    const int sig = sigtimedwait(&signals, nullptr, &wait);
    const uint64_t now = steady_ms();
    for (size_t i = 0; i < checks.size(); ++i)
      if (const auto verdict = checks[i]->poll(now)) pool->set_available(i, *verdict, now);
    pool->poll(now, 0);
    if (sig == SIGUSR1) {
      for (const auto& check : checks) fmt::print("{}", check->report());
      fmt::print("{}", pool->report());
    }
    std::fflush(stdout);
    if (sig == SIGINT || sig == SIGTERM) {
      spdlog::info("signal {}: deregistering", sig);
      break;
    }
    if (c.log.stats_interval_s != 0 && std::time(nullptr) - last_stats >= c.log.stats_interval_s) {
      for (const auto& check : checks) spdlog::info("{}", check->report());
      last_stats = std::time(nullptr);
    }
  }
  pool->stop(1000);
  for (const auto& check : checks) fmt::print("{}", check->report());
  fmt::print("{}", pool->report());
  std::fflush(stdout);
  return 0;
}

}  // namespace poolflow::collector
