// poolflow-transport-bench: the raw message rate of a transport, without IPFIX
// encoding, metering or decoding: the baseline the export rate is compared with.
// Same transports and settings as poolflowd / poolflow-collector.
//
//   poolflow-transport-bench --listen sctp:127.0.0.1:4739 --expect 40000
//   poolflow-transport-bench --send sctp:127.0.0.1:4739 --messages 40000 --size 1400
#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "poolflow/listener.h"
#include "poolflow/transport.h"

using namespace poolflow;
using Clock = std::chrono::steady_clock;

namespace {

class CountingSink final : public MessageSink {
 public:
  void session_started(uint64_t, const std::string&) override {}
  bool message(uint64_t, uint16_t, std::span<const uint8_t> bytes) override {
    const auto now = Clock::now();
    if (messages_.load() == 0) first_ = now;
    last_ = now;
    octets_ += bytes.size();
    messages_.fetch_add(1);
    return true;
  }
  void control_message(uint64_t, uint32_t, std::span<const uint8_t>) override {}
  void session_ended(uint64_t) override {}

  uint64_t messages() const { return messages_.load(); }
  double seconds() const { return std::chrono::duration<double>(last_ - first_).count(); }
  uint64_t octets() const { return octets_; }

 private:
  std::atomic<uint64_t> messages_{0};
  uint64_t octets_ = 0;
  Clock::time_point first_, last_;
};

int listen(const std::string& spec, uint64_t expect, uint32_t timeout_s) {
  CountingSink sink;
  auto listener = open_listener(spec, ListenerOptions{}, sink);
  fmt::print(stderr, "listening on {}\n", listener->description());
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  while (sink.messages() < expect && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  fmt::print("received {} messages ({} octets) in {:.3f} s: {:.0f} messages/s\n", sink.messages(),
             sink.octets(), sink.seconds(),
             sink.seconds() > 0 ? static_cast<double>(sink.messages()) / sink.seconds() : 0.0);
  std::fflush(stdout);
  std::_Exit(sink.messages() >= expect ? 0 : 1);  // usrsctp threads run until the end
}

int send(const std::string& spec, uint64_t messages, size_t size, bool sack_clocked) {
  // The reference is a plain usrsctp sender: usrsctp_sendv on this thread, unless
  // --sack-clocked asks for poolflowd's way.
  TransportOptions options;
  options.sctp.sack_clocked_sends = sack_clocked;
  auto transport = open_transport(spec, options);
  std::vector<uint8_t> message(size, 0);
  message[1] = 10;  // an IPFIX header: version 10 and the length
  message[2] = static_cast<uint8_t>(size >> 8);
  message[3] = static_cast<uint8_t>(size);
  MessageInfo info;
  info.stream = 1;
  const auto started = Clock::now();
  uint64_t failed = 0;
  for (uint64_t i = 0; i < messages;) {
    switch (transport->send(message, info)) {
      case SendResult::sent:
      case SendResult::held:
        ++i;
        break;
      case SendResult::failed:
        ++failed, ++i;
        break;
      case SendResult::would_block:
        std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  for (int i = 0; i < 5000 && !transport->drained(); ++i) {
    transport->poll();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  fmt::print("sent {} messages of {} octets in {:.3f} s ({} failed)\n", messages, size, seconds,
             failed);
  std::fflush(stdout);
  std::_Exit(failed == 0 ? 0 : 1);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"poolflow-transport-bench: raw message rate of a poolflow transport"};
  std::string listen_spec, send_spec;
  uint64_t count = 40000;
  size_t size = 1400;
  uint32_t timeout_s = 60;
  bool sack_clocked = false;
  app.add_option("--listen", listen_spec, "receive on sctp:|tcp:|udp:HOST:PORT");
  app.add_option("--send", send_spec, "send to sctp:|tcp:|udp:HOST:PORT");
  app.add_option("--messages,--expect", count, "messages to send / to wait for");
  app.add_option("--size", size, "octets per message (16-65535)")->check(CLI::Range(16, 65535));
  app.add_option("--timeout", timeout_s, "receiver: give up after this many seconds");
  app.add_flag("--sack-clocked", sack_clocked,
               "sctp sender: messages handed to usrsctp from its receive thread as SACKs "
               "free room (poolflowd's sctp.sack_clocked_sends), not by usrsctp_sendv here");
  CLI11_PARSE(app, argc, argv);
  if (listen_spec.empty() == send_spec.empty()) {
    fmt::print(stderr, "give --listen or --send\n");
    return 2;
  }
  return listen_spec.empty() ? send(send_spec, count, size, sack_clocked)
                             : listen(listen_spec, count, timeout_s);
}
