// poolflow-collector's run loop: outputs, the collector, its listeners and,
// with a pool handle, its pool membership; statistics on SIGUSR1 and at exit.
#pragma once

#include "conf/collector_conf.h"

namespace poolflow::collector {

/// Runs until SIGINT or SIGTERM. Returns the exit code.
int run(const conf::CollectorConf& conf);

/// --register-only (src/collector/register_only.cc): no listener, no output;
/// keeps the third-party collectors of `pool.targets` registered while their
/// checks pass (target_check.h). Runs until SIGINT or SIGTERM.
int run_register_only(const conf::CollectorConf& conf);

}  // namespace poolflow::collector
