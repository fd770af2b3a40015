#include "rserpool/registrant.h"

#include <spdlog/spdlog.h>

#include "rserpool/codec.h"

namespace poolflow::rserpool {

void Registrant::start(uint64_t now_ms) {
  registrar_ = 0;
  act(RegistrantAction::Kind::connect);
  state_ = State::connecting;
  deadline_ms_ = now_ms + config_.response_timeout_ms;
}

void Registrant::association_up(uint64_t now_ms) {
  if (state_ == State::connecting) send_registration(now_ms);
}

void Registrant::association_down(uint64_t now_ms) {
  // Waiting, there is no association: this is the end of the one it dropped.
  if (state_ == State::stopped || state_ == State::idle || state_ == State::waiting) return;
  if (state_ == State::deregistering) {
    act(RegistrantAction::Kind::disconnect);
    state_ = State::stopped;
    deadline_ms_ = UINT64_MAX;
    return;
  }
  ++stats_.associations_lost;
  hunt(now_ms);
}

void Registrant::send_registration(uint64_t now_ms) {
  act(RegistrantAction::Kind::send, Message::registration(config_.handle, config_.element));
  ++stats_.registrations_sent;
  state_ = State::registering;
  deadline_ms_ = now_ms + config_.response_timeout_ms;
}

void Registrant::hunt(uint64_t now_ms) {
  act(RegistrantAction::Kind::disconnect);
  registrar_ = (registrar_ + 1) % std::max<size_t>(config_.registrars, 1);
  state_ = State::waiting;
  deadline_ms_ = now_ms + config_.reconnect_interval_ms;
}

void Registrant::received(std::span<const uint8_t> bytes, uint64_t now_ms) {
  const DecodeResult r = decode(Protocol::asap, bytes);
  const Message& m = r.message;
  const bool ours =
      r.ok() && m.pool_handle == config_.handle && (!m.pe_id || *m.pe_id == config_.element.id);
  if (!ours) {
    ++stats_.ignored;
    return;
  }
  if (m.is(AsapType::registration_response) && state_ == State::registering) {
    if (m.flags & kFlagReject) {
      ++stats_.rejected;
      stats_.last_reject_cause = m.errors.empty() ? 0 : m.errors.front().code;
      if (stats_.rejected == 1 || spdlog::should_log(spdlog::level::debug))
        spdlog::warn("pool {}: registration of PE {:08x} refused: {}", config_.handle,
                     config_.element.id, cause_name(stats_.last_reject_cause));
      state_ = State::rejected;
    } else {
      if (stats_.registered++ == 0 || spdlog::should_log(spdlog::level::debug))
        spdlog::info("pool {}: PE {:08x} registered", config_.handle, config_.element.id);
      state_ = State::registered;
    }
    deadline_ms_ = now_ms + config_.reregistration_interval_ms;
  } else if (m.is(AsapType::endpoint_keep_alive)) {
    Message ack = Message::asap(AsapType::endpoint_keep_alive_ack);
    ack.pool_handle = config_.handle;
    ack.pe_id = config_.element.id;
    act(RegistrantAction::Kind::send, std::move(ack));
    ++stats_.keep_alives_answered;
  } else if (m.is(AsapType::deregistration_response) && state_ == State::deregistering) {
    act(RegistrantAction::Kind::disconnect);
    state_ = State::stopped;
    deadline_ms_ = UINT64_MAX;
  } else {
    ++stats_.ignored;
  }
}

void Registrant::advance(uint64_t now_ms) {
  if (now_ms < deadline_ms_) return;
  switch (state_) {
    case State::waiting:
      act(RegistrantAction::Kind::connect);
      state_ = State::connecting;
      deadline_ms_ = now_ms + config_.response_timeout_ms;
      break;
    case State::connecting:
      hunt(now_ms);
      break;
    case State::registering:
      ++stats_.timeouts;
      hunt(now_ms);
      break;
    case State::registered:
    case State::rejected:
      send_registration(now_ms);
      break;
    case State::deregistering:
      act(RegistrantAction::Kind::disconnect);
      state_ = State::stopped;
      deadline_ms_ = UINT64_MAX;
      break;
    case State::idle:
    case State::stopped:
      deadline_ms_ = UINT64_MAX;
      break;
  }
}

void Registrant::stop(uint64_t now_ms) {
  if (state_ == State::registered || state_ == State::registering || state_ == State::rejected) {
    Message m = Message::asap(AsapType::deregistration);
    m.pool_handle = config_.handle;
    m.pe_id = config_.element.id;
    act(RegistrantAction::Kind::send, std::move(m));
    state_ = State::deregistering;
    deadline_ms_ = now_ms + config_.response_timeout_ms;
    return;
  }
  if (state_ != State::idle && state_ != State::stopped) act(RegistrantAction::Kind::disconnect);
  state_ = State::stopped;
  deadline_ms_ = UINT64_MAX;
}

}  // namespace poolflow::rserpool
