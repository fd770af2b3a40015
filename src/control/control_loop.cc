#include "control/control_loop.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "control/stats_report.h"

namespace poolflow::control {

namespace {
constexpr auto kTick = std::chrono::milliseconds(10);

void dispatch(Pipeline& pipeline, const transport::SctpEvent& event) {
  if (pipeline.pool) pipeline.pool->on_event(event, steady_ms());
  if (pipeline.outputs) pipeline.outputs->on_event(pipeline.aggregator->exporters(), event);
}

bool all_finished(const Pipeline& pipeline) {
  for (const auto& worker : pipeline.workers)
    if (!worker->finished()) return false;
  return true;
}
}  // namespace

double run_control_loop(Pipeline& pipeline, uint32_t stats_interval_s,
                        const std::atomic<int>& signal_number) {
  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  auto last_report = started;
  MeterTotals last_totals = sum_worker_stats(pipeline);

  if (pipeline.pool) pipeline.pool->start(steady_ms());
  while (!all_finished(pipeline)) {
    if (const int sig = signal_number.load(); sig != 0 && !pipeline.stop_workers.load()) {
      spdlog::info("signal {}: ending every flow and closing the outputs", sig);
      pipeline.stop_workers.store(true);
    }
    // Asleep until an association event or the next tick.
    for (auto event = pipeline.events.pop(kTick); event;
         event = pipeline.events.pop(std::chrono::milliseconds(0)))
      dispatch(pipeline, *event);
    if (pipeline.pool) pipeline.pool->tick(steady_ms());
    if (pipeline.outputs) pipeline.outputs->tick(pipeline.aggregator->exporters());
    publish_metering_reliability(pipeline);
    const auto now = Clock::now();
    const double elapsed = std::chrono::duration<double>(now - last_report).count();
    if (stats_interval_s != 0 && elapsed >= stats_interval_s) {
      const MeterTotals totals = sum_worker_stats(pipeline);
      spdlog::info("{}{}", progress_line(totals, last_totals, elapsed),
                   pipeline.pool ? pool_progress(*pipeline.pool) : "");
      last_totals = totals;
      last_report = now;
    }
  }
  if (pipeline.pool) pipeline.pool->begin_close();
  // The last word on what was not metered, for the statistics records at close.
  publish_metering_reliability(pipeline, true);
  // Every record is in a ring now: the aggregation thread drains them and stops.
  pipeline.stop_aggregator.store(true, std::memory_order_release);
  const double run_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  // Wait asleep: rte_eal_mp_wait_lcore() spins, on a core the aggregation
  // thread may share, while it still sends and waits for acknowledgements.
  // The registrar association stays served meanwhile, and exporters that never
  // reached a collector may still get one (the aggregation thread waits for it
  // until close_timeout_ms).
  while (!pipeline.aggregator->finished()) {
    for (auto event = pipeline.events.pop(std::chrono::milliseconds(1)); event;
         event = pipeline.events.pop(std::chrono::milliseconds(0)))
      dispatch(pipeline, *event);
    if (pipeline.pool) pipeline.pool->tick(steady_ms());
    if (pipeline.outputs) pipeline.outputs->tick(pipeline.aggregator->exporters(), true);
  }
  return run_seconds;
}

}  // namespace poolflow::control
