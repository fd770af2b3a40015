// poolflow-pool: a pool user for operators and tests, as dig is for DNS.
//   poolflow-pool --registrar HOST:PORT[/UDPPORT] resolve HANDLE
//   poolflow-pool --registrar HOST:PORT[/UDPPORT] watch HANDLE
// Exit codes: 0 resolved, 1 the registrar refused (e.g. unknown pool handle),
// 2 bad command line, 3 no registrar answered.
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <map>
#include <memory>

#include "conf/program_options.h"
#include "conf/registrar_conf.h"
#include "poolflow/clock.h"
#include "rserpool/codec.h"
#include "rserpool/resolver.h"
#include "transport/sctp/sctp_messages.h"

using namespace poolflow;

namespace {

constexpr int kRefused = 1, kNoAnswer = 3;
volatile std::sig_atomic_t g_stop = 0;

struct Options {
  std::vector<std::string> registrars;
  std::string command, handle;
  uint32_t items = 0;
  uint32_t timeout_ms = 2000;
  uint32_t interval_ms = 1000;
  uint32_t count = 0;
};

// One resolution against the registrars in turn: the first that answers
// decides. Returns the resolver's final state.
rserpool::HandleResolver resolve_once(const Options& o,
                                      const std::vector<conf::RegistrarAddress>& registrars,
                                      size_t& current) {
  transport::SctpMessageOptions options;
  for (size_t attempt = 0; attempt < registrars.size() && !g_stop; ++attempt) {
    const conf::RegistrarAddress& r = registrars[(current + attempt) % registrars.size()];
    rserpool::HandleResolver resolver(o.timeout_ms, 1);
    transport::SctpEventQueue queue;
    std::unique_ptr<transport::SctpMessageClient> client;
    try {
      client = std::make_unique<transport::SctpMessageClient>(r.host, r.port, r.udp_port, options,
                                                              queue, 0);
    } catch (const std::exception& e) {
      spdlog::warn("registrar {}: {}", r.text(), e.what());
      continue;
    }
    const uint64_t give_up = steady_ms() + 2ull * o.timeout_ms;
    bool up = false, down = false;
    while (!down && !g_stop && steady_ms() < give_up) {
      if (up) {
        if (auto again = resolver.advance(steady_ms()))
          client->send(rserpool::kAsapPpid, rserpool::encode(*again));
        if (resolver.status() != rserpool::HandleResolver::Status::waiting) break;
      }
      auto e = queue.pop(std::chrono::milliseconds(20));
      if (!e) continue;
      if (e->kind == transport::SctpEvent::Kind::up) {
        up = true;
        client->send(rserpool::kAsapPpid,
                     rserpool::encode(resolver.start(o.handle, o.items, steady_ms())));
      } else if (e->kind == transport::SctpEvent::Kind::down) {
        down = true;
      } else if (e->ppid == rserpool::kAsapPpid) {
        resolver.received(e->bytes);
      }
    }
    const auto status = resolver.status();
    if (status == rserpool::HandleResolver::Status::resolved ||
        status == rserpool::HandleResolver::Status::refused) {
      current = (current + attempt) % registrars.size();
      return resolver;
    }
    spdlog::warn("registrar {}: {}", r.text(), up ? "no answer" : "no association");
  }
  return rserpool::HandleResolver{};
}

std::map<uint32_t, std::string> lines_of(const rserpool::HandleResolver& r) {
  std::map<uint32_t, std::string> out;
  for (const rserpool::PoolElement& e : r.elements()) out[e.id] = rserpool::describe(e);
  return out;
}

int report_failure(const Options& o, const rserpool::HandleResolver& r) {
  if (r.status() == rserpool::HandleResolver::Status::refused) {
    const uint16_t cause = r.errors().front().code;
    fmt::print(stderr, "poolflow-pool: {}: {} (cause {})\n", o.handle, rserpool::cause_name(cause),
               cause);
    return kRefused;
  }
  fmt::print(stderr, "poolflow-pool: {}: no registrar answered\n", o.handle);
  return kNoAnswer;
}

int run(const Options& o, const std::vector<conf::RegistrarAddress>& registrars) {
  size_t current = 0;
  if (o.command == "resolve") {
    const rserpool::HandleResolver r = resolve_once(o, registrars, current);
    if (r.status() != rserpool::HandleResolver::Status::resolved) return report_failure(o, r);
    for (const rserpool::PoolElement& e : r.elements()) fmt::print("{}\n", rserpool::describe(e));
    return 0;
  }
  // watch: what changed since the last resolution, "+" new, "-" gone, "~" changed.
  std::map<uint32_t, std::string> last;
  for (uint32_t n = 0; !g_stop && (o.count == 0 || n < o.count); ++n) {
    const uint64_t started = steady_ms();
    const rserpool::HandleResolver r = resolve_once(o, registrars, current);
    std::map<uint32_t, std::string> now;
    if (r.status() == rserpool::HandleResolver::Status::resolved) {
      now = lines_of(r);
    } else if (r.status() != rserpool::HandleResolver::Status::refused) {
      report_failure(o, r);
      now = last;  // no news is not a change
    }
    const std::string stamp = fmt::format("{:%H:%M:%S}", fmt::localtime(std::time(nullptr)));
    for (const auto& [id, line] : last)
      if (!now.count(id)) fmt::print("{} - {}\n", stamp, line);
    for (const auto& [id, line] : now) {
      const auto old = last.find(id);
      if (old == last.end())
        fmt::print("{} + {}\n", stamp, line);
      else if (old->second != line)
        fmt::print("{} ~ {}\n", stamp, line);
    }
    std::fflush(stdout);
    last = std::move(now);
    while (!g_stop && steady_ms() < started + o.interval_ms) usleep(10'000);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"poolflow-pool: resolve an RSerPool pool handle at a registrar"};
  Options o;
  int verbosity = 0;
  app.add_option("--registrar", o.registrars,
                 "HOST:PORT or HOST:PORT/UDPPORT of a registrar (repeatable)")
      ->required()
      ->allow_extra_args(false);
  app.add_option("--items", o.items, "elements wanted (0: the registrar's default)");
  app.add_option("--timeout-ms", o.timeout_ms, "wait this long for an answer, then try once more")
      ->check(CLI::Range(10u, 600000u));
  app.add_flag("-v,--verbose", verbosity, "more logging");
  CLI::App* resolve = app.add_subcommand("resolve", "print the pool's elements, one per line");
  resolve->add_option("handle", o.handle, "pool handle")->required();
  CLI::App* watch = app.add_subcommand("watch", "resolve every interval and print what changed");
  watch->add_option("handle", o.handle, "pool handle")->required();
  watch->add_option("--interval-ms", o.interval_ms, "between resolutions")
      ->check(CLI::Range(10u, 3600000u));
  watch->add_option("--count", o.count, "resolutions, then exit (0: until SIGINT)");
  app.require_subcommand(1);
  if (const auto rc = conf::parse_command_line(app, argc, argv, "poolflow-pool")) return *rc;
  o.command = resolve->parsed() ? "resolve" : "watch";
  std::vector<conf::RegistrarAddress> registrars;
  for (const std::string& text : o.registrars) {
    conf::RegistrarAddress a;
    if (const std::string error = conf::parse_registrar_address(text, a); !error.empty()) {
      fmt::print(stderr, "poolflow-pool: command line: --registrar {}\n", error);
      return conf::kExitConfError;
    }
    registrars.push_back(a);
  }
  conf::setup_logging("poolflow-pool", "warn", verbosity);
  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  const int rc = run(o, registrars);
  // usrsctp keeps threads and callbacks until the process ends.
  std::fflush(nullptr);
  std::_Exit(rc);
}
