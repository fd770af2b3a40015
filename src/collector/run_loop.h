// poolflow-collector's run loop: outputs, the collector, its listeners and,
// with a pool handle, its pool membership; statistics on SIGUSR1 and at exit.
#pragma once

#include <string>
#include <vector>

#include "conf/collector_conf.h"

namespace poolflow::collector {

/// Runs until SIGINT or SIGTERM. Returns the exit code.
int run(const conf::CollectorConf& conf);

/// --merge DIR... (src/collector/merge.h): the files of a pool's collectors
/// into `write.outputs`, each record once; prints what it did.
int run_merge(const conf::CollectorConf& conf, const std::vector<std::string>& directories);

/// --register-only (src/collector/register_only.cc): no listener, no output;
/// keeps the third-party collectors of `pool.targets` registered while their
/// checks pass (target_check.h). Runs until SIGINT or SIGTERM.
int run_register_only(const conf::CollectorConf& conf);

}  // namespace poolflow::collector
