// poolflow-registrar's run loop: the thin adapter between the I/O-free
// rserpool::Registrar and the sockets (usrsctp for ASAP, UDP multicast for
// SERVER_ANNOUNCE). One thread owns the state machine; usrsctp's threads only
// queue what arrives.
#pragma once

#include <csignal>
#include <string>

#include "conf/registrar_conf.h"

namespace poolflow::registrar {

/// Runs until SIGINT or SIGTERM (which `signals` holds blocked); statistics and
/// the handlespace go to stdout on SIGUSR1 and at exit. Returns the exit code;
/// throws std::runtime_error when it cannot listen.
int run(const conf::RegistrarConf& conf, const sigset_t& signals);

}  // namespace poolflow::registrar
