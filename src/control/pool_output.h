// A "pool:HANDLE" output on the control core: the thin adapter around
// rserpool::PoolUser. It keeps the association to the home registrar (usrsctp,
// PPID 11; its events come through the control loop's queue), listens for
// SERVER_ANNOUNCE when asked to, and keeps each of the output's exporters
// fed with a transport to a pool element chosen by the pool's policy: it opens
// the transport (the handshake runs on usrsctp's threads), hands it to the
// aggregation thread through Exporter::replace_transport() once it is up,
// and when it fails or is lost reports the element unreachable and selects the
// next. Transports know nothing of pools.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "conf/poolflowd_conf.h"
#include "conf/registrar_conf.h"
#include "export/aggregator.h"
#include "export/exporter.h"
#include "poolflow/counter.h"
#include "poolflow/transport.h"
#include "rserpool/pool_user.h"
#include "transport/sctp/sctp_messages.h"

namespace poolflow::control {

struct PoolOutputStats {
  RelaxedCounter selected;     ///< transports opened to a selected pool element
  RelaxedCounter exporting;    ///< of those, handed over to the aggregation thread
  RelaxedCounter unreachable;  ///< elements that could not be reached or were lost
  RelaxedCounter announces;    ///< SERVER_ANNOUNCEs received (valid ones)
  RelaxedCounter bad_announces;
};

class PoolOutput {
 public:
  /// `exporters`: the output's exporters (pool.sessions of them, awaiting
  /// their first transport), sharing its records by `shares` (null for one
  /// exporter). Registrar events arrive on `events`.
  PoolOutput(const conf::PoolflowdConf& c, std::vector<exporter::Exporter*> exporters,
             std::shared_ptr<exporter::ShareTable> shares, transport::SctpEventQueue& events);
  ~PoolOutput();
  PoolOutput(const PoolOutput&) = delete;
  PoolOutput& operator=(const PoolOutput&) = delete;

  void start(uint64_t now_ms);
  /// An event from the queue: of an association to a registrar, or of a
  /// transport to a pool element.
  void on_event(const transport::SctpEvent& event, uint64_t now_ms);
  /// Runs what is due; cheap enough for every tick of the control loop.
  void tick(uint64_t now_ms);
  /// Shutdown: selects only for exporters that never had a transport (they hold
  /// records until close_timeout_ms); the others keep what they have.
  void begin_close() { closing_ = true; }

  const std::string& handle() const { return user_.config().handle; }
  const rserpool::PoolUser& user() const { return user_; }
  const PoolOutputStats& stats() const { return stats_; }
  /// "PE 0000abcd sctp:127.0.0.1:4739" per exporter, "-" when it has none.
  std::vector<std::string> members() const;

 private:
  struct Slot {
    exporter::Exporter* exporter;
    std::optional<rserpool::PoolElement> element;  ///< connecting to or exporting to
    std::unique_ptr<Transport> connecting;         ///< until it is up
    bool handed_over = false;
    uint64_t tag = 0;  ///< of its transport's events (transport_events.h)
  };

  void run_actions(uint64_t now_ms);
  void read_announces();
  void keep(Slot& slot, size_t index, uint64_t now_ms);
  void on_element_event(const transport::SctpEvent& event, uint64_t now_ms);
  void lost(Slot& slot, const std::string& why, uint64_t now_ms);
  /// Shares the records among the exporters that export: by weight for the
  /// weighted policies, by unused capacity for randomized least used, equally
  /// for the others; none to a exporter without a pool element.
  void reshare();

  rserpool::PoolUser user_;
  std::vector<conf::RegistrarAddress> registrars_;  ///< by the user's index
  TransportOptions transport_;
  transport::SctpMessageOptions asap_;
  transport::SctpEventQueue& events_;
  std::unique_ptr<transport::SctpMessageClient> registrar_;
  uint64_t registrar_tag_ = 0;  ///< events of older associations are stale
  uint64_t element_tags_ = 0;   ///< the last tag given to a transport to an element
  int announce_fd_ = -1;
  std::vector<Slot> slots_;
  std::shared_ptr<exporter::ShareTable> shares_;
  bool closing_ = false;
  PoolOutputStats stats_;
};

}  // namespace poolflow::control
