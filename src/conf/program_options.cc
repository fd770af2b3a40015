#include "conf/program_options.h"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace poolflow::conf {

void add_program_options(CLI::App& app, ProgramOptions& options, std::vector<std::string>& sets) {
  app.add_option("-c,--conf", options.conf_path, "conf file (TOML); without it, built-in defaults");
  app.add_option("--set", sets, "override a conf key: section.key=value (repeatable)")
      ->allow_extra_args(false);
  app.add_flag("-v,--verbose", options.verbosity, "more logging (-vv: trace)");
  app.add_flag("--check-conf", options.check_conf, "check the configuration and exit");
}

std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv,
                                      const std::string& program) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "{}: command line: {} (see --help)\n", program, e.what());
    return kExitConfError;
  }
  return std::nullopt;
}

void setup_logging(const std::string& program, const std::string& level, int verbosity) {
  spdlog::set_default_logger(spdlog::stderr_color_mt(program));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e " + program + " %^%l%$: %v");
  auto lvl = spdlog::level::from_str(level);
  if (verbosity >= 2)
    lvl = spdlog::level::trace;
  else if (verbosity == 1)
    lvl = std::min(lvl, spdlog::level::debug);
  spdlog::set_level(lvl);
}

sigset_t block_operator_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  for (const int s : {SIGINT, SIGTERM, SIGUSR1}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

}  // namespace poolflow::conf
