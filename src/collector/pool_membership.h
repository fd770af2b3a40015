// The collector as an RSerPool pool element: the adapter that runs one
// rserpool::Registrant per listener over usrsctp associations to the
// registrars, answers their keep-alives and reports the collector's load. A
// pool has one transport type, so each kind of listener has its own pool
// (conf::pool_handle_for). Everything runs on the collector's main thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "conf/collector_conf.h"
#include "conf/registrar_conf.h"
#include "rserpool/registrant.h"
#include "transport/sctp/sctp_messages.h"

namespace poolflow::collector {

class PoolMembership {
 public:
  /// Throws std::runtime_error for an endpoint that cannot be registered.
  PoolMembership(const conf::CollectorConf::Pool& pool, const std::vector<conf::Target>& endpoints,
                 const transport::SctpMessageOptions& sctp);

  /// Starts registering every endpoint not made unavailable before.
  void start(uint64_t now_ms);
  /// Handles what arrived, runs what is due; `records` is the collector's
  /// total of records received so far, from which the load is computed.
  void poll(uint64_t now_ms, uint64_t records);
  /// Deregisters every endpoint, waiting at most `wait_ms` for the answers.
  void stop(uint64_t wait_ms);
  /// Takes an endpoint out of its pool (a failed third-party collector) or
  /// puts it back; registration follows at the next poll.
  void set_available(size_t endpoint, bool available, uint64_t now_ms);

  /// One line per registration: pool, PE id, state, registrar, counters.
  std::string report() const;

  /// The PE id of the first registration (the SCTP listener's, when there is one).
  uint32_t pe_id() const {
    return members_.empty() ? 0 : members_.front().registrant.config().element.id;
  }

 private:
  struct Member {
    rserpool::Registrant registrant;
    std::unique_ptr<transport::SctpMessageClient> client;
    uint32_t generation = 0;  ///< of `client`: events of older associations are stale
    bool wildcard =
        false;  ///< listens on every address: register the one that reaches the registrar
    bool available = true;
  };

  void perform(size_t index);
  void connect(size_t index, size_t registrar);
  static uint64_t tag(size_t index, uint32_t generation) {
    return uint64_t(index) << 32 | generation;
  }

  conf::CollectorConf::Pool pool_;
  transport::SctpMessageOptions sctp_;
  std::vector<conf::RegistrarAddress> registrars_;
  transport::SctpEventQueue queue_;
  std::vector<Member> members_;
  uint64_t load_ms_ = 0;  ///< when the load was last computed
  uint64_t load_records_ = 0;
  uint32_t load_ = 0;
};

}  // namespace poolflow::collector
