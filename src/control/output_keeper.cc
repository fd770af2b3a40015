#include "control/output_keeper.h"

#include <spdlog/spdlog.h>

namespace poolflow::control {

void OutputKeeper::tick(const std::vector<std::unique_ptr<exporter::ExportSession>>& sessions,
                        bool closing) {
  outputs_.resize(sessions.size());
  const auto now = Clock::now();
  for (size_t i = 0; i < sessions.size(); ++i) {
    exporter::ExportSession& session = *sessions[i];
    Output& output = outputs_[i];
    if (closing && !session.awaiting_transport()) continue;
    try {
      if (output.connecting) {
        if (!output.connecting->connected()) continue;
        const bool first = session.awaiting_transport();
        session.replace_transport(std::move(output.connecting));
        spdlog::info(
            "{}: {}", session.output(),
            first ? "association up" : "association lost; a new one is up (new transport session)");
        continue;
      }
      // The first association is always tried; a lost one again only if asked.
      if (!session.output().starts_with("sctp:") || session.transport_up() ||
          session.replacement_pending() || now < output.next_try ||
          (options_.sctp.reconnect_interval_s == 0 && !session.awaiting_transport()))
        continue;
      output.next_try = now + retry_interval();
      output.connecting = open_transport(session.output(), options_, Connect::start);
    } catch (const std::exception& e) {
      output.connecting.reset();
      output.next_try = Clock::now() + retry_interval();
      spdlog::warn("{}: {}: {}; next attempt in {} s", session.output(),
                   session.awaiting_transport() ? "no association yet; connecting failed"
                                                : "association lost; reconnecting failed",
                   e.what(), std::chrono::duration<double>(retry_interval()).count());
    }
  }
}

}  // namespace poolflow::control
