#include "control/output_keeper.h"

#include <spdlog/spdlog.h>

namespace poolflow::control {

void OutputKeeper::tick(const std::vector<std::unique_ptr<exporter::ExportSession>>& sessions) {
  if (options_.sctp.reconnect_interval_s == 0) return;
  next_try_.resize(sessions.size());
  const auto now = Clock::now();
  for (size_t i = 0; i < sessions.size(); ++i) {
    exporter::ExportSession& session = *sessions[i];
    if (!session.output().starts_with("sctp:") || session.transport_up() ||
        session.replacement_pending() || now < next_try_[i])
      continue;
    next_try_[i] = now + std::chrono::seconds(options_.sctp.reconnect_interval_s);
    try {
      session.replace_transport(open_transport(session.output(), options_));
      spdlog::info("{}: association lost; a new one is up (new transport session)",
                   session.output());
    } catch (const std::exception& e) {
      spdlog::warn("{}: association lost; reconnecting failed: {}; next attempt in {} s",
                   session.output(), e.what(), options_.sctp.reconnect_interval_s);
    }
  }
}

}  // namespace poolflow::control
