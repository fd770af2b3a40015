#include "control/output_keeper.h"

#include <spdlog/spdlog.h>

#include "control/transport_events.h"

namespace poolflow::control {

void OutputKeeper::check_connecting(exporter::Exporter& exporter, Output& output) {
  try {
    if (!output.connecting->connected()) return;
  } catch (const std::exception& e) {
    output.connecting.reset();
    output.next_try = Clock::now() + retry_interval();
    spdlog::warn("{}: {}: {}; next attempt in {} s", exporter.output(),
                 exporter.awaiting_transport() ? "no association yet; connecting failed"
                                               : "association lost; reconnecting failed",
                 e.what(), std::chrono::duration<double>(retry_interval()).count());
    return;
  }
  const bool first = exporter.awaiting_transport();
  exporter.replace_transport(std::move(output.connecting));
  output.up = true;
  spdlog::info(
      "{}: {}", exporter.output(),
      first ? "association up" : "association lost; a new one is up (new transport session)");
}

void OutputKeeper::on_event(const std::vector<std::unique_ptr<exporter::Exporter>>& exporters,
                            const transport::SctpEvent& event) {
  if ((event.association & kTagOwnerMask) != kFixedOutputTags) return;
  outputs_.resize(exporters.size());
  for (size_t i = 0; i < exporters.size(); ++i) {
    Output& output = outputs_[i];
    if (output.tag != event.association) continue;  // else an older association's
    if (output.connecting)
      check_connecting(*exporters[i], output);
    else if (event.kind == transport::SctpEvent::Kind::down)
      output.up = false;
    return;
  }
}

void OutputKeeper::tick(const std::vector<std::unique_ptr<exporter::Exporter>>& exporters,
                        bool closing) {
  outputs_.resize(exporters.size());
  const auto now = Clock::now();
  for (size_t i = 0; i < exporters.size(); ++i) {
    exporter::Exporter& exporter = *exporters[i];
    Output& output = outputs_[i];
    if (!exporter.output().starts_with("sctp:")) continue;
    if (closing && !exporter.awaiting_transport()) continue;
    if (output.connecting) {
      check_connecting(exporter, output);  // its timeout
      continue;
    }
    // The first association is always tried; a lost one again only if asked.
    if ((output.up && !exporter.awaiting_transport()) || now < output.next_try ||
        (options_.sctp.reconnect_interval_s == 0 && !exporter.awaiting_transport()))
      continue;
    output.next_try = now + retry_interval();
    output.tag = kFixedOutputTags | ++tags_;
    output.up = false;
    try {
      output.connecting = open_transport(exporter.output(), options_, Connect::start,
                                         queue_events(events_, output.tag));
    } catch (const std::exception& e) {
      spdlog::warn("{}: {}: {}; next attempt in {} s", exporter.output(),
                   exporter.awaiting_transport() ? "no association yet; connecting failed"
                                                 : "association lost; reconnecting failed",
                   e.what(), std::chrono::duration<double>(retry_interval()).count());
    }
  }
}

}  // namespace poolflow::control
