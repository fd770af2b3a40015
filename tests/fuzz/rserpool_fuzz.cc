// libFuzzer target: the ASAP/ENRP codec and the registrar on arbitrary bytes.
// Whatever decodes must encode and decode to the same message; the registrar
// takes every input as one ASAP message and must neither crash nor grow past
// its limits.
#include <cstddef>
#include <cstdint>

#include "rserpool/codec.h"
#include "rserpool/registrar.h"

using namespace poolflow::rserpool;

namespace {

Registrar& registrar() {
  static Registrar* r = [] {
    RegistrarConfig c;
    c.allow_loopback = true;
    c.max_pools = 8;
    c.max_elements_per_pool = 4;
    c.max_bad_messages = 1u << 30;
    auto* registrar = new Registrar(c, 1);
    registrar->association_up(1, *Address::parse("127.0.0.1"), 0);
    return registrar;
  }();
  return *r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static uint64_t now = 0;
  const std::span<const uint8_t> bytes(data, size);
  for (const Protocol p : {Protocol::asap, Protocol::enrp}) {
    const DecodeResult r = decode(p, bytes);
    if (!r.ok()) continue;
    const std::vector<uint8_t> again = encode(r.message);
    const DecodeResult back = decode(p, again);
    if (!back.ok() || !(back.message == r.message)) __builtin_trap();
  }
  Registrar& reg = registrar();
  now += 1000;
  reg.received(1, bytes, now);
  reg.advance(now);
  for (const Outgoing& o : reg.take_outgoing())
    if (!o.abort && !decode(o.message.protocol, encode(o.message)).ok()) __builtin_trap();
  if (reg.pool_count() > 8 || reg.element_count() > 32) __builtin_trap();
  return 0;
}
