// asap_peer: a misbehaving or demanding ASAP peer of poolflow-registrar, for
// the bad-input test and the end-to-end resolution benchmark. Each scenario
// prints one line of what came back, decoded with the project's codec; the
// test also reads the capture with tshark.
//   asap_peer --registrar HOST:PORT/UDPPORT SCENARIO [N]
// Scenarios:
//   garbage N       N random messages on one association (max 1 KiB each; a
//                   third with a type ASAP lacks, a third with a known one)
//   oversize N      one REGISTRATION-typed message of N octets
//   lifetimes       registrations with lifetimes -1, 0, 999 ms and 2^31-1 ms
//   policies        three elements of one pool with three different policies
//   pools N         N elements from one association, each in a pool of its own
//   unknown N       N resolutions of pools that do not exist
//   associations N  N associations at once from this one address
//   hold N          N elements registered in pool "load" (ports 5000..),
//                   keep-alives answered, until SIGTERM
//   resolve-load N  resolutions of pool "load" with N outstanding, for 3 s
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "conf/registrar_conf.h"
#include "rserpool/codec.h"
#include "transport/sctp/sctp_messages.h"

using namespace poolflow;
using namespace poolflow::rserpool;
using Clock = std::chrono::steady_clock;

namespace {

struct Peer {
  conf::RegistrarAddress registrar;
  transport::SctpMessageOptions options;
  transport::SctpEventQueue queue{1 << 16};

  std::unique_ptr<transport::SctpMessageClient> connect(uint64_t tag) {
    return std::make_unique<transport::SctpMessageClient>(registrar.host, registrar.port,
                                                          registrar.udp_port, options, queue, tag);
  }
  /// One association that is up, or nullptr after saying `scenario` has none.
  std::unique_ptr<transport::SctpMessageClient> associate(const char* scenario) {
    auto client = connect(1);
    if (wait_up(1)) return client;
    fmt::print("{}: no association\n", scenario);
    return nullptr;
  }
  /// Waits for the association `tag` to come up; false if it went down.
  bool wait_up(uint64_t tag) {
    const auto until = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < until)
      if (auto e = queue.pop(std::chrono::milliseconds(50)); e && e->association == tag)
        return e->kind == transport::SctpEvent::Kind::up;
    return false;
  }
  /// The next message on any association within `wait`, decoded.
  std::optional<Message> next(std::chrono::milliseconds wait, bool* went_down = nullptr) {
    const auto until = Clock::now() + wait;
    while (Clock::now() < until) {
      auto e = queue.pop(std::chrono::milliseconds(20));
      if (!e) continue;
      if (e->kind == transport::SctpEvent::Kind::down && went_down != nullptr) *went_down = true;
      if (e->kind != transport::SctpEvent::Kind::message) continue;
      DecodeResult d = decode(Protocol::asap, e->bytes);
      if (d.ok()) return std::move(d.message);
      fmt::print(stderr, "asap_peer: an answer that does not decode: {}\n", d.detail);
    }
    return std::nullopt;
  }
};

PoolElement element(uint32_t id, uint16_t port) {
  PoolElement e;
  e.id = id;
  e.registration_life_ms = 30000;
  e.user_transport.kind = TransportKind::sctp;
  e.user_transport.port = port;
  e.user_transport.addresses.push_back(*Address::parse("127.0.0.1"));
  e.policy.type = uint32_t(PolicyType::round_robin);
  return e;
}

std::vector<uint8_t> registration(const std::string& handle, const PoolElement& e) {
  return encode(Message::registration(handle, e));
}

std::string answer_text(const std::optional<Message>& m) {
  if (!m) return "no answer";
  if (m->flags & kFlagReject || !m->errors.empty()) {
    std::string causes;
    for (const ErrorCause& c : m->errors)
      causes +=
          fmt::format("{}cause {} ({} octets)", causes.empty() ? "" : ", ", c.code, c.info.size());
    return "rejected: " + causes;
  }
  return "accepted";
}

// Sends each registration and waits for its answer; counts answers by outcome.
std::map<std::string, int> register_all(Peer& peer, transport::SctpMessageClient& client,
                                        const std::vector<std::vector<uint8_t>>& messages) {
  std::map<std::string, int> outcomes;
  for (const auto& bytes : messages) {
    while (!client.send(kAsapPpid, bytes))
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const auto answer = peer.next(std::chrono::seconds(3));
    ++outcomes[answer ? (answer->flags & kFlagReject
                             ? fmt::format("cause {}", answer->errors.at(0).code)
                             : std::string("accepted"))
                      : "no answer"];
  }
  return outcomes;
}

std::string outcomes_text(const std::map<std::string, int>& outcomes) {
  std::string out;
  for (const auto& [what, n] : outcomes) out += fmt::format(" {}={}", what, n);
  return out;
}

int garbage(Peer& peer, int n) {
  auto client = peer.associate("garbage");
  if (!client) return 1;
  std::mt19937 rng(7);
  int sent = 0, errors = 0;
  bool aborted = false;
  for (int i = 0; i < n && !aborted; ++i) {
    std::vector<uint8_t> junk(1 + rng() % 1024);
    for (uint8_t& b : junk) b = static_cast<uint8_t>(rng());
    // A third are random; a third have a known type and the right length; a
    // third have the right length and a type ASAP does not have.
    if (i % 3 != 0 && junk.size() >= 4) {
      junk[0] = static_cast<uint8_t>(i % 3 == 1 ? 1 + rng() % 0x0e : 0x0f + rng() % 0xf0);
      junk[2] = static_cast<uint8_t>(junk.size() >> 8);
      junk[3] = static_cast<uint8_t>(junk.size());
    }
    if (!client->send(kAsapPpid, junk)) break;
    ++sent;
    if (auto m = peer.next(std::chrono::milliseconds(100), &aborted); m && m->is(AsapType::error))
      ++errors;
  }
  if (!aborted) peer.next(std::chrono::milliseconds(500), &aborted);
  fmt::print("garbage: sent {} operation errors back {} association aborted {}\n", sent, errors,
             aborted ? "yes" : "no");
  return 0;
}

int oversize(Peer& peer, int n) {
  auto client = peer.associate("oversize");
  if (!client) return 1;
  std::vector<uint8_t> big(static_cast<size_t>(n), 0);
  big[0] = uint8_t(AsapType::registration);
  big[2] = static_cast<uint8_t>(n >> 8);
  big[3] = static_cast<uint8_t>(n);
  client->send(kAsapPpid, big);
  fmt::print("oversize {} octets: {}\n", n, answer_text(peer.next(std::chrono::seconds(3))));
  return 0;
}

int lifetimes(Peer& peer) {
  auto client = peer.associate("lifetimes");
  if (!client) return 1;
  for (const int32_t life : {-1, 0, 999, 0x7fffffff}) {
    PoolElement e = element(0x100 + uint32_t(life & 0xff), 4739);
    e.registration_life_ms = life;
    client->send(kAsapPpid, registration("lifetimes", e));
    fmt::print("lifetime {} ms: {}\n", life, answer_text(peer.next(std::chrono::seconds(3))));
  }
  return 0;
}

int policies(Peer& peer) {
  auto client = peer.associate("policies");
  if (!client) return 1;
  uint32_t id = 0x200;
  for (const PolicyType policy :
       {PolicyType::round_robin, PolicyType::least_used, PolicyType::random}) {
    PoolElement e = element(++id, uint16_t(4700 + id % 100));
    e.policy.type = uint32_t(policy);
    client->send(kAsapPpid, registration("policies", e));
    fmt::print("policy {}: {}\n", policy_name(uint32_t(policy)),
               answer_text(peer.next(std::chrono::seconds(3))));
  }
  return 0;
}

int pools(Peer& peer, int n) {
  auto client = peer.associate("pools");
  if (!client) return 1;
  std::vector<std::vector<uint8_t>> messages;
  for (int i = 0; i < n; ++i)
    messages.push_back(
        registration(fmt::format("flood-{}", i), element(0x10000 + uint32_t(i), 4739)));
  fmt::print("pools: {} registrations:{}\n", n,
             outcomes_text(register_all(peer, *client, messages)));
  return 0;
}

int unknown(Peer& peer, int n) {
  auto client = peer.associate("unknown");
  if (!client) return 1;
  std::map<std::string, int> outcomes;
  for (int i = 0; i < n; ++i) {
    Message m = Message::asap(AsapType::handle_resolution);
    m.pool_handle = fmt::format("no-such-pool-{}", i);
    client->send(kAsapPpid, encode(m));
    const auto answer = peer.next(std::chrono::seconds(3));
    ++outcomes[answer && !answer->errors.empty() ? fmt::format("cause {}", answer->errors[0].code)
                                                 : answer_text(answer)];
  }
  fmt::print("unknown: {} resolutions:{}\n", n, outcomes_text(outcomes));
  return 0;
}

int associations(Peer& peer, int n) {
  std::vector<std::unique_ptr<transport::SctpMessageClient>> clients;
  for (int i = 0; i < n; ++i) clients.push_back(peer.connect(uint64_t(i)));
  // Each comes up; those over the limit are aborted by the registrar at once.
  std::map<uint64_t, bool> up;
  const auto until = Clock::now() + std::chrono::seconds(3);
  while (Clock::now() < until)
    if (auto e = peer.queue.pop(std::chrono::milliseconds(50)))
      if (e->kind != transport::SctpEvent::Kind::message)
        up[e->association] = e->kind == transport::SctpEvent::Kind::up;
  int still_up = 0;
  for (const auto& [tag, is_up] : up) still_up += is_up;
  fmt::print("associations: opened {} still up {} refused {}\n", n, still_up, n - still_up);
  return 0;
}

int hold(Peer& peer, int n) {
  auto client = peer.associate("hold");
  if (!client) return 1;
  std::vector<std::vector<uint8_t>> messages;
  for (int i = 0; i < n; ++i)
    messages.push_back(registration("load", element(0x30000 + uint32_t(i), uint16_t(5000 + i))));
  fmt::print("hold: {} registrations:{}\n", n,
             outcomes_text(register_all(peer, *client, messages)));
  std::fflush(stdout);
  for (;;) {
    auto e = peer.queue.pop(std::chrono::milliseconds(1000));
    if (!e) continue;
    if (e->kind == transport::SctpEvent::Kind::down)
      return fmt::print("hold: association lost\n"), 1;
    if (e->kind != transport::SctpEvent::Kind::message) continue;
    DecodeResult d = decode(Protocol::asap, e->bytes);
    if (!d.ok() || !d.message.is(AsapType::endpoint_keep_alive)) continue;
    Message ack = Message::asap(AsapType::endpoint_keep_alive_ack);
    ack.pool_handle = d.message.pool_handle;
    ack.pe_id = d.message.pe_id;
    client->send(kAsapPpid, encode(ack));
  }
}

int resolve_load(Peer& peer, int window) {
  auto client = peer.associate("resolve-load");
  if (!client) return 1;
  Message m = Message::asap(AsapType::handle_resolution);
  m.pool_handle = "load";
  const std::vector<uint8_t> request = encode(m);
  uint64_t answered = 0, elements = 0, errors = 0;
  int outstanding = 0;
  const auto start = Clock::now();
  const auto until = start + std::chrono::seconds(3);
  while (Clock::now() < until) {
    while (outstanding < window && client->send(kAsapPpid, request)) ++outstanding;
    if (auto e = peer.queue.pop(std::chrono::milliseconds(100));
        e && e->kind == transport::SctpEvent::Kind::message) {
      --outstanding;
      ++answered;
      DecodeResult d = decode(Protocol::asap, e->bytes);
      if (!d.ok() || !d.message.errors.empty()) ++errors;
      elements += d.message.elements.size();
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  fmt::print(
      "resolve-load: {:.0f} resolutions/s ({} in {:.2f} s, {} outstanding, {:.1f} "
      "elements each, {} errors)\n",
      double(answered) / seconds, answered, seconds, window,
      answered ? double(elements) / double(answered) : 0.0, errors);
  return errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"asap_peer: a misbehaving or demanding ASAP peer of poolflow-registrar"};
  std::string registrar, scenario;
  int n = 0;
  app.add_option("--registrar", registrar, "HOST:PORT/UDPPORT")->required();
  app.add_option("scenario", scenario,
                 "garbage|oversize|lifetimes|policies|pools|unknown|associations|hold|resolve-load")
      ->required();
  app.add_option("n", n, "how many");
  CLI11_PARSE(app, argc, argv);
  Peer peer;
  if (const std::string error = conf::parse_registrar_address(registrar, peer.registrar);
      !error.empty()) {
    fmt::print(stderr, "asap_peer: {}\n", error);
    return 2;
  }
  int rc = 2;
  if (scenario == "garbage") rc = garbage(peer, n);
  if (scenario == "oversize") rc = oversize(peer, n);
  if (scenario == "lifetimes") rc = lifetimes(peer);
  if (scenario == "policies") rc = policies(peer);
  if (scenario == "pools") rc = pools(peer, n);
  if (scenario == "unknown") rc = unknown(peer, n);
  if (scenario == "associations") rc = associations(peer, n);
  if (scenario == "hold") rc = hold(peer, n);
  if (scenario == "resolve-load") rc = resolve_load(peer, n);
  std::fflush(stdout);
  std::_Exit(rc);  // usrsctp's threads outlive main: no static destructors
}
