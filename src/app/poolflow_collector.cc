// poolflow-collector: command line and conf, then the run loop
// (src/collector/run_loop.cc, or register_only.cc).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "collector/run_loop.h"
#include "conf/collector_conf.h"
#include "conf/program_options.h"

using namespace poolflow;

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
  app.add_option("--pool", overrides.pool, "register every listener in this RSerPool pool")
      ->allow_extra_args(false);
  app.add_option("--registrar", overrides.registrars,
                 "HOST:PORT or HOST:PORT/UDPPORT of a registrar (repeatable)")
      ->allow_extra_args(false);
  app.add_flag("--register-only", overrides.register_only,
               "listen to nothing: register the --target collectors in the pool and keep them "
               "there while their checks pass");
  app.add_option("--target", overrides.targets,
                 "with --register-only: sctp:HOST:PORT[/UDPPORT], tcp:HOST:PORT or udp:HOST:PORT "
                 "of a collector to register (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--merge", overrides.merges,
                 "merge the files a pool's collectors wrote here (repeatable) into the --write "
                 "outputs, each record once (replayed copies of stored records left out), and exit")
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
  if (!overrides.merges.empty()) return collector::run_merge(c, overrides.merges);
  // usrsctp keeps threads and callbacks until the process ends: leave without
  // running destructors that would race them.
  std::fflush(nullptr);
  std::_Exit(c.pool.register_only ? collector::run_register_only(c) : collector::run(c));
}
