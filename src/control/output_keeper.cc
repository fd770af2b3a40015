#include "control/output_keeper.h"

#include <spdlog/spdlog.h>

namespace poolflow::control {

void OutputKeeper::tick(const std::vector<std::unique_ptr<exporter::ExportSession>>& sessions) {
  if (options_.sctp.reconnect_interval_s == 0) return;
  outputs_.resize(sessions.size());
  const auto now = Clock::now();
  for (size_t i = 0; i < sessions.size(); ++i) {
    exporter::ExportSession& session = *sessions[i];
    Output& output = outputs_[i];
    try {
      if (output.connecting) {
        if (!output.connecting->connected()) continue;
        session.replace_transport(std::move(output.connecting));
        spdlog::info("{}: association lost; a new one is up (new transport session)",
                     session.output());
        continue;
      }
      if (!session.output().starts_with("sctp:") || session.transport_up() ||
          session.replacement_pending() || now < output.next_try)
        continue;
      output.next_try = now + std::chrono::seconds(options_.sctp.reconnect_interval_s);
      output.connecting = open_transport(session.output(), options_, Connect::start);
    } catch (const std::exception& e) {
      output.connecting.reset();
      output.next_try = Clock::now() + std::chrono::seconds(options_.sctp.reconnect_interval_s);
      spdlog::warn("{}: association lost; reconnecting failed: {}; next attempt in {} s",
                   session.output(), e.what(), options_.sctp.reconnect_interval_s);
    }
  }
}

}  // namespace poolflow::control
