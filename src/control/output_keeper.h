// Keeps SCTP outputs connected: it opens their first association (the export
// session meanwhile holds its records), and when an association is lost, the control core
// opens a new one (a new transport session: templates again, sequence numbers
// from zero) and hands it to the aggregation thread, which goes on meanwhile.
// The handshake runs on usrsctp's threads: the control core only starts it and
// looks at it each tick, so it never waits on the network. TCP reconnects by
// itself; files and UDP have no session to lose. A pool output chooses another
// collector instead (pool_output.h).
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "export/export_session.h"
#include "poolflow/transport.h"

namespace poolflow::control {

class OutputKeeper {
 public:
  /// Retries at most every options.sctp.reconnect_interval_s (0: a lost
  /// association is not reopened; a first one that fails is retried every 5 s).
  explicit OutputKeeper(TransportOptions options) : options_(options) {}

  /// Control core, any rate, never waits: starts reopening lost SCTP outputs when
  /// their retry time has come, and hands over those whose association came up.
  /// `closing` (shutdown): only outputs that never had an association, whose
  /// records wait for one until close_timeout_ms.
  void tick(const std::vector<std::unique_ptr<exporter::ExportSession>>& sessions,
            bool closing = false);

 private:
  using Clock = std::chrono::steady_clock;
  struct Output {
    Clock::time_point next_try;
    std::unique_ptr<Transport> connecting;  ///< a new association on its way up
  };
  Clock::duration retry_interval() const {
    return std::chrono::seconds(
        options_.sctp.reconnect_interval_s != 0 ? options_.sctp.reconnect_interval_s : 5);
  }
  TransportOptions options_;
  std::vector<Output> outputs_;  ///< per session
};

}  // namespace poolflow::control
