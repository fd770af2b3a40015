// Keeps SCTP outputs connected: it opens their first association (the export
// exporter meanwhile holds its records), and when an association is lost, the control core
// opens a new one (a new transport session: templates again, sequence numbers
// from zero) and hands it to the aggregation thread, which goes on meanwhile.
// The handshake runs on usrsctp's threads: the control core only starts it, and
// learns from its event queue when the association is up or lost, so it never
// waits on the network. TCP reconnects by
// itself; files and UDP have no exporter to lose. A pool output chooses another
// collector instead (pool_output.h).
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "export/exporter.h"
#include "poolflow/transport.h"
#include "transport/sctp/sctp_messages.h"

namespace poolflow::control {

class OutputKeeper {
 public:
  /// Retries at most every options.sctp.reconnect_interval_s (0: a lost
  /// association is not reopened; a first one that fails is retried every 5 s).
  /// The associations it opens tell of their changes on `events`.
  OutputKeeper(TransportOptions options, transport::SctpEventQueue& events)
      : options_(options), events_(events) {}

  /// An event from the queue: hands over an association that came up, and
  /// notes a lost one, to be reopened at its retry time.
  void on_event(const std::vector<std::unique_ptr<exporter::Exporter>>& exporters,
                const transport::SctpEvent& event);

  /// Control core, any rate, never waits: starts reopening lost SCTP outputs when
  /// their retry time has come, and gives up on handshakes past their timeout.
  /// `closing` (shutdown): only outputs that never had an association, whose
  /// records wait for one until close_timeout_ms.
  void tick(const std::vector<std::unique_ptr<exporter::Exporter>>& exporters,
            bool closing = false);

 private:
  using Clock = std::chrono::steady_clock;
  struct Output {
    Clock::time_point next_try;
    std::unique_ptr<Transport> connecting;  ///< a new association on its way up
    uint64_t tag = 0;                       ///< of the newest association's events
    bool up = false;                        ///< the association handed over is up
  };
  Clock::duration retry_interval() const {
    return std::chrono::seconds(
        options_.sctp.reconnect_interval_s != 0 ? options_.sctp.reconnect_interval_s : 5);
  }
  /// The handshake of `output.connecting`: hands it over once up, reports and
  /// drops it when it failed.
  void check_connecting(exporter::Exporter& exporter, Output& output);

  TransportOptions options_;
  transport::SctpEventQueue& events_;
  std::vector<Output> outputs_;  ///< per exporter
  uint64_t tags_ = 0;
};

}  // namespace poolflow::control
