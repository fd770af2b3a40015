// The registrar's work on one core (Google Benchmark), over the I/O-free
// state machine with the wire codec, as poolflow-registrar runs it minus the
// usrsctp sockets: handle resolutions against 1,000 pools of 10 pool elements,
// registrations and re-registrations, and the keep-alive audit of 10,000
// elements, with logging off. Resolutions have a baseline from the same run:
// the codec alone (decoding the request and encoding an answer of the same
// size).
//   registrar_bench [--benchmark_filter=...] [--benchmark_repetitions=5]
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "rserpool/codec.h"
#include "rserpool/registrar.h"

using namespace poolflow::rserpool;

namespace {

constexpr uint32_t kPools = 1000;
constexpr uint32_t kElementsPerPool = 10;
constexpr uint32_t kElements = kPools * kElementsPerPool;

std::string handle_of(uint32_t pool) { return "ipfix-collectors-" + std::to_string(pool); }

Address peer_of(uint32_t element) {
  return *Address::parse("10.1." + std::to_string(element >> 8) + "." +
                         std::to_string(element & 0xff));
}

PoolElement element(uint32_t n, PolicyType policy) {
  PoolElement e;
  e.id = n + 1;
  e.registration_life_ms = 3'600'000;
  e.user_transport.kind = TransportKind::sctp;
  e.user_transport.port = 4739;
  e.user_transport.udp_encapsulation_port = 9899;
  e.user_transport.addresses.push_back(peer_of(n));
  e.policy.type = uint32_t(policy);
  e.policy.weight = 1 + n % 4;
  e.policy.load = (n * 7919) % kFullLoad;
  return e;
}

std::vector<uint8_t> registration(uint32_t n, PolicyType policy) {
  return encode(Message::registration(handle_of(n / kElementsPerPool), element(n, policy)));
}

RegistrarConfig config() {
  RegistrarConfig c;
  c.max_pools = kPools * 2;
  c.max_elements_per_pool = 1000;
  c.max_elements_per_peer = 1000;
  c.max_associations_per_peer = 64;
  c.keep_alive_interval_ms = 5000;  // the defaults of poolflow-registrar
  c.keep_alive_timeout_ms = 5000;
  return c;
}

// A registrar holding 1,000 pools of 10 elements, each element over its own
// association (association n + 1) from its own address, as collectors are.
struct Handlespace {
  Registrar registrar{config(), 42};
  explicit Handlespace(PolicyType policy, uint64_t now = 0) {
    for (uint32_t n = 0; n < kElements; ++n) {
      registrar.association_up(n + 1, peer_of(n), now);
      registrar.received(n + 1, registration(n, policy), now);
    }
    registrar.take_outgoing();
    if (registrar.element_count() != kElements) throw std::runtime_error("registrations refused");
  }
};

std::vector<std::vector<uint8_t>> resolution_requests() {
  std::vector<std::vector<uint8_t>> requests;
  for (uint32_t p = 0; p < kPools; ++p) {
    Message m = Message::asap(AsapType::handle_resolution);
    m.pool_handle = handle_of(p);
    requests.push_back(encode(m));
  }
  return requests;
}

// Resolutions answered per second: the request decoded, the pool looked up
// and ordered by its policy, the answer (10 elements) encoded.
void BM_Resolution(benchmark::State& state) {
  const auto policy = PolicyType(state.range(0));
  Handlespace h(policy);
  const auto requests = resolution_requests();
  constexpr uint64_t kUser = kElements + 1;
  h.registrar.association_up(kUser, *Address::parse("10.2.0.1"), 0);
  std::vector<uint8_t> answer;
  size_t next = 0, elements = 0;
  for (auto _ : state) {
    h.registrar.received(kUser, requests[next], 1000);
    next = next + 1 == requests.size() ? 0 : next + 1;
    for (const Outgoing& o : h.registrar.take_outgoing()) {
      answer.clear();
      encode(o.message, answer);
      elements += o.message.elements.size();
    }
    benchmark::DoNotOptimize(answer.data());
  }
  if (elements != state.iterations() * kElementsPerPool)
    state.SkipWithError("answers without every element");
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(policy_name(uint32_t(policy)));
}
BENCHMARK(BM_Resolution)
    ->Arg(int(PolicyType::round_robin))
    ->Arg(int(PolicyType::least_used))
    ->Arg(int(PolicyType::weighted_random));

// The baseline: the same request decoded and an answer of 10 elements encoded,
// with no handlespace.
void BM_ResolutionCodecOnly(benchmark::State& state) {
  const auto requests = resolution_requests();
  Message response = Message::asap(AsapType::handle_resolution_response);
  response.pool_handle = handle_of(0);
  for (uint32_t n = 0; n < kElementsPerPool; ++n)
    response.elements.push_back(element(n, PolicyType::round_robin));
  std::vector<uint8_t> answer;
  size_t next = 0;
  for (auto _ : state) {
    DecodeResult request = decode(Protocol::asap, requests[next]);
    benchmark::DoNotOptimize(request);
    next = next + 1 == requests.size() ? 0 : next + 1;
    answer.clear();
    encode(response, answer);
    benchmark::DoNotOptimize(answer.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ResolutionCodecOnly);

// New registrations per second: 10,000 elements into 1,000 pools, from an
// empty handlespace each time (its construction is not timed).
void BM_Registration(benchmark::State& state) {
  std::vector<std::vector<uint8_t>> messages;
  for (uint32_t n = 0; n < kElements; ++n)
    messages.push_back(registration(n, PolicyType::round_robin));
  std::vector<uint8_t> answer;
  for (auto _ : state) {
    state.PauseTiming();
    auto registrar = std::make_unique<Registrar>(config(), 42);
    for (uint32_t n = 0; n < kElements; ++n) registrar->association_up(n + 1, peer_of(n), 0);
    state.ResumeTiming();
    for (uint32_t n = 0; n < kElements; ++n) {
      registrar->received(n + 1, messages[n], 0);
      for (const Outgoing& o : registrar->take_outgoing()) {
        answer.clear();
        encode(o.message, answer);
      }
    }
    state.PauseTiming();
    if (registrar->element_count() != kElements) state.SkipWithError("registrations refused");
    registrar.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kElements);
}
BENCHMARK(BM_Registration)->Unit(benchmark::kMillisecond);

// Re-registrations per second: elements already registered refresh their load
// and lifetime, as every collector does each re-registration interval.
void BM_Reregistration(benchmark::State& state) {
  Handlespace h(PolicyType::least_used);
  std::vector<std::vector<uint8_t>> messages;
  for (uint32_t n = 0; n < kElements; ++n)
    messages.push_back(registration(n, PolicyType::least_used));
  std::vector<uint8_t> answer;
  uint32_t n = 0;
  for (auto _ : state) {
    h.registrar.received(n + 1, messages[n], 1000);
    for (const Outgoing& o : h.registrar.take_outgoing()) {
      answer.clear();
      encode(o.message, answer);
    }
    n = n + 1 == kElements ? 0 : n + 1;
  }
  if (h.registrar.stats().reregistrations < state.iterations())
    state.SkipWithError("re-registrations refused");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Reregistration);

// The keep-alive audit of 10,000 elements homed here, 60 simulated seconds
// with the default 5 s interval: every ENDPOINT_KEEP_ALIVE encoded, every
// ACK (encoded beforehand: the elements' work) decoded and handled, the
// timers run every 10 ms as the server's loop does. Reported as the share of
// one core the audit takes.
void BM_KeepAliveAudit(benchmark::State& state) {
  constexpr uint64_t kSimulatedMs = 60'000;
  constexpr uint64_t kStepMs = 10;
  std::vector<std::vector<uint8_t>> acks(kElements + 1);
  for (uint32_t n = 0; n < kElements; ++n) {
    Message m = Message::asap(AsapType::endpoint_keep_alive_ack);
    m.pool_handle = handle_of(n / kElementsPerPool);
    m.pe_id = n + 1;
    acks[n + 1] = encode(m);
  }
  std::vector<uint8_t> bytes;
  double busy_s = 0;
  uint64_t keep_alives = 0, removed = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto h = std::make_unique<Handlespace>(PolicyType::round_robin);
    const uint64_t sent_before = h->registrar.stats().keep_alives_sent;
    state.ResumeTiming();
    const auto start = std::chrono::steady_clock::now();
    for (uint64_t now = kStepMs; now <= kSimulatedMs; now += kStepMs) {
      if (h->registrar.next_deadline() > now) continue;
      h->registrar.advance(now);
      for (const Outgoing& o : h->registrar.take_outgoing()) {
        bytes.clear();
        encode(o.message, bytes);
        if (o.message.is(AsapType::endpoint_keep_alive))
          h->registrar.received(o.association, acks[o.association], now);
      }
      h->registrar.take_outgoing();
    }
    busy_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.PauseTiming();
    keep_alives += h->registrar.stats().keep_alives_sent - sent_before;
    removed += h->registrar.element_count() != kElements;
    h.reset();
    state.ResumeTiming();
  }
  if (removed != 0) state.SkipWithError("elements removed although every keep-alive was answered");
  const double simulated_s = double(kSimulatedMs) / 1000 * double(state.iterations());
  state.counters["keep_alives_per_s"] = double(keep_alives) / simulated_s;
  state.counters["core_percent"] = 100.0 * busy_s / simulated_s;
}
BENCHMARK(BM_KeepAliveAudit)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

int main(int argc, char** argv) {
  // The registrar logs each registration and removal: not what is measured.
  spdlog::set_level(spdlog::level::off);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
