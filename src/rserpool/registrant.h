// A pool element's side of ASAP (RFC 5352 §3.1-3.3, §3.7) without I/O: it
// keeps one pool element registered with a home registrar. It asks for an
// association to a registrar from its list, registers, re-registers every
// interval with its current load, answers ENDPOINT_KEEP_ALIVE, moves on to the
// next registrar when its association is lost or a registration goes
// unanswered, and deregisters when told to stop. The collector's adapter
// (src/collector/pool_membership.cc) runs one per registered transport.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "rserpool/message.h"

namespace poolflow::rserpool {

struct RegistrantConfig {
  std::string handle;
  PoolElement element;    ///< id, user transport, policy and registration life
  size_t registrars = 1;  ///< registrar addresses the adapter knows, by index
  uint32_t reregistration_interval_ms = 10000;  ///< T4-reregistration
  uint32_t response_timeout_ms = 3000;          ///< T2-registration / T3-deregistration
  uint32_t reconnect_interval_ms = 1000;        ///< between tries of the next registrar
};

struct RegistrantAction {
  enum class Kind : uint8_t { connect, disconnect, send };
  Kind kind = Kind::send;
  size_t registrar = 0;  ///< connect: which one
  Message message;       ///< send: on the current association
};

struct RegistrantStats {
  uint64_t registrations_sent = 0;
  uint64_t registered = 0;  ///< accepted registrations and re-registrations
  uint64_t rejected = 0;
  uint16_t last_reject_cause = 0;
  uint64_t keep_alives_answered = 0;
  uint64_t timeouts = 0;  ///< registrations the registrar did not answer in time
  uint64_t associations_lost = 0;
  uint64_t ignored = 0;  ///< messages that are not for a pool element, or malformed
};

class Registrant {
 public:
  enum class State : uint8_t {
    idle,
    waiting,      ///< before the next try of a registrar
    connecting,   ///< the association is asked for
    registering,  ///< REGISTRATION sent, no answer yet
    registered,
    rejected,       ///< the registrar refused; tried again after the re-registration interval
    deregistering,  ///< DEREGISTRATION sent, no answer yet
    stopped,
  };

  explicit Registrant(RegistrantConfig config) : config_(std::move(config)) {}

  /// Starts: asks for an association to the first registrar.
  void start(uint64_t now_ms);
  /// The association asked for is up / is gone.
  void association_up(uint64_t now_ms);
  void association_down(uint64_t now_ms);
  /// One ASAP message from the registrar.
  void received(std::span<const uint8_t> bytes, uint64_t now_ms);
  /// Runs what is due: re-registrations, timeouts, reconnections.
  void advance(uint64_t now_ms);
  uint64_t next_deadline() const { return deadline_ms_; }

  /// The load the next (re-)registration carries (0..kFullLoad).
  void set_load(uint32_t load) { config_.element.policy.load = load; }
  /// The addresses of the user transport, when they are only known once the
  /// association is up (a listener on a wildcard address).
  void set_user_addresses(std::vector<Address> addresses) {
    config_.element.user_transport.addresses = std::move(addresses);
  }
  /// Deregisters (when registered) and then stops; state() is stopped once the
  /// registrar answered, or the answer timed out.
  void stop(uint64_t now_ms);

  std::vector<RegistrantAction> take_actions() { return std::exchange(actions_, {}); }
  State state() const { return state_; }
  size_t registrar() const { return registrar_; }
  const RegistrantConfig& config() const { return config_; }
  const RegistrantStats& stats() const { return stats_; }

 private:
  void send_registration(uint64_t now_ms);
  void hunt(uint64_t now_ms);  ///< drop the association, try the next registrar later
  void act(RegistrantAction::Kind kind, Message m = {}) {
    actions_.push_back({kind, registrar_, std::move(m)});
  }

  RegistrantConfig config_;
  State state_ = State::idle;
  size_t registrar_ = 0;
  uint64_t deadline_ms_ = UINT64_MAX;
  std::vector<RegistrantAction> actions_;
  RegistrantStats stats_;
};

}  // namespace poolflow::rserpool
