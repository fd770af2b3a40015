// Keeps SCTP outputs connected: when an association is lost, the control core
// opens a new one (a new transport session: templates again, sequence numbers
// from zero) and hands it to the aggregation thread, which goes on meanwhile.
// TCP reconnects by itself; files and UDP have no session to lose. Choosing
// another collector (RSerPool) will replace the "same address again" policy.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "export/export_session.h"
#include "poolflow/transport.h"

namespace poolflow::control {

class OutputKeeper {
 public:
  /// Retries at most every options.sctp.reconnect_interval_s (0: never).
  explicit OutputKeeper(TransportOptions options) : options_(options) {}

  /// Control core, any rate: reopens lost SCTP outputs when their retry time has
  /// come. Blocks while connecting (at most options.sctp.connect_timeout_ms).
  void tick(const std::vector<std::unique_ptr<exporter::ExportSession>>& sessions);

 private:
  using Clock = std::chrono::steady_clock;
  TransportOptions options_;
  std::vector<Clock::time_point> next_try_;  ///< per session
};

}  // namespace poolflow::control
