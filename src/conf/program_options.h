// Command-line plumbing every poolflow program shares: the common options
// (-c, --set, -v, --check-conf), one-line command-line errors with exit code 2,
// and logging to stderr.
#pragma once

#include <csignal>

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

namespace poolflow::conf {

inline constexpr int kExitConfError = 2;

struct ProgramOptions {
  std::string conf_path;
  int verbosity = 0;
  bool check_conf = false;
};

/// Adds -c/--conf, --set (into `sets`), -v/--verbose and --check-conf to `app`.
void add_program_options(CLI::App& app, ProgramOptions& options, std::vector<std::string>& sets);

/// Parses the command line. Returns the exit code to leave with (0 after --help,
/// kExitConfError after one line on stderr naming the problem), or nothing.
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv,
                                      const std::string& program);

/// Logs to stderr as `program`, at `level` or lower with -v (debug) and -vv (trace).
void setup_logging(const std::string& program, const std::string& level, int verbosity);

/// Blocks SIGINT, SIGTERM and SIGUSR1 in this thread and in every thread
/// started after (usrsctp's, listeners'), and returns them: a run loop takes
/// them with sigtimedwait() on its own time, never inside a callback.
sigset_t block_operator_signals();

}  // namespace poolflow::conf
