// poolflow-registrar: conf → the registrar's run loop (src/registrar), which
// serves ASAP to pool elements and pool users.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>

#include "conf/program_options.h"
#include "conf/registrar_conf.h"
#include "registrar/registrar_server.h"

using namespace poolflow;

int main(int argc, char** argv) {
  CLI::App app{"poolflow-registrar: RSerPool registrar (ENRP server) on usrsctp"};
  conf::ProgramOptions options;
  conf::RegistrarOverrides overrides;
  conf::add_program_options(app, options, overrides.sets);
  app.add_option("--asap", overrides.asap, "HOST:PORT to serve ASAP on (default 0.0.0.0:3863)")
      ->allow_extra_args(false);
  app.add_option("--announce", overrides.announce, "on|off: SERVER_ANNOUNCE over UDP multicast")
      ->allow_extra_args(false);
  if (const auto rc = conf::parse_command_line(app, argc, argv, "poolflow-registrar")) return *rc;
  conf::RegistrarConf c;
  try {
    c = conf::load_registrar_conf(options.conf_path, overrides);
  } catch (const conf::ConfError& e) {
    fmt::print(stderr, "poolflow-registrar: {}\n", e.what());
    return conf::kExitConfError;
  }
  conf::setup_logging("poolflow-registrar", c.log.level, options.verbosity);
  if (options.check_conf) {
    fmt::print("{}: configuration OK\n",
               options.conf_path.empty() ? "defaults" : options.conf_path);
    return 0;
  }
  const sigset_t signals = conf::block_operator_signals();
  int rc = 1;
  try {
    rc = registrar::run(c, signals);
  } catch (const std::exception& e) {
    fmt::print(stderr, "poolflow-registrar: {}\n", e.what());
  }
  // usrsctp keeps threads and callbacks until the process ends: leave without
  // running destructors that would race them.
  std::fflush(nullptr);
  std::_Exit(rc);
}
