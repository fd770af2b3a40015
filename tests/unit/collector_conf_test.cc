// poolflow-collector's configuration: the shipped file, overrides, refusals.
#include <gtest/gtest.h>

#include "conf/collector_conf.h"

namespace poolflow::conf {
namespace {

const std::string kShippedConf = POOLFLOW_SOURCE_DIR "/conf/collector.toml";

std::string error_of(const CollectorOverrides& o) {
  try {
    load_collector_conf("", o);
  } catch (const ConfError& e) {
    return e.what();
  }
  return "";
}

TEST(CollectorConf, ShippedFileIsTheDefaults) {
  EXPECT_EQ(load_collector_conf(kShippedConf, {}), load_collector_conf("", {}));
  EXPECT_EQ(load_collector_conf("", {}).listen.endpoints,
            std::vector<std::string>{"sctp:0.0.0.0:4739"});
  EXPECT_EQ(load_collector_conf("", {}).sctp.udp_encaps_port, 9899);
}

TEST(CollectorConf, CommandLineReplacesListenAndWrite) {
  CollectorOverrides o;
  o.listens = {"sctp:127.0.0.1:4739", "udp:[::1]:4739"};
  o.writes = {"file:" + ::testing::TempDir(), "jsonl:/tmp/x.jsonl"};
  o.sets = {"decoder.max_templates_per_session=10"};
  const CollectorConf c = load_collector_conf("", o);
  EXPECT_EQ(c.listen.endpoints, o.listens);
  EXPECT_EQ(c.write.outputs, o.writes);
  EXPECT_EQ(c.decoder.max_templates_per_session, 10u);
}

TEST(CollectorConf, Refusals) {
  CollectorOverrides o;
  o.listens = {"sctp:127.0.0.1"};
  EXPECT_EQ(error_of(o),
            "command line: listen.endpoints: sctp: expected HOST:PORT (port 1-65535), got "
            "\"127.0.0.1\"");
  o.listens = {"ftp:127.0.0.1:21"};
  EXPECT_NE(error_of(o).find("expected sctp:HOST:PORT"), std::string::npos);
  o.listens = {};
  o.writes = {"file:/nonexistent/dir"};
  EXPECT_EQ(error_of(o),
            "command line: write.outputs: /nonexistent/dir: No such file or directory");
  o.writes = {"csv:/tmp/x"};
  EXPECT_NE(error_of(o).find("expected file:DIRECTORY or jsonl:PATH"), std::string::npos);
  o.writes = {};
  o.sets = {"decoder.max_fields_per_template=0"};
  EXPECT_NE(error_of(o).find("command line: decoder.max_fields_per_template: must be between 1"),
            std::string::npos);
  o.sets = {"sctp.udp_encaps_port=100000"};
  EXPECT_NE(error_of(o).find("must be between 0 and 65535"), std::string::npos);
  o.sets = {"listen.bogus=1"};
  EXPECT_EQ(error_of(o), "command line: listen.bogus: unknown key");
}

TEST(CollectorConf, PoolSection) {
  CollectorOverrides o;
  o.pool = "ipfix-collectors";
  EXPECT_EQ(error_of(o),
            "defaults: pool.registrars: a pool needs a registrar (--registrar HOST:PORT)");
  o.registrars = {"127.0.0.1:3863/99999"};
  EXPECT_NE(error_of(o).find("UDP encapsulation port after '/' must be 1-65535"),
            std::string::npos);
  o.registrars = {"127.0.0.1:3863", "[::1]:3863/9901"};
  const CollectorConf c = load_collector_conf("", o);
  EXPECT_EQ(pool_handle_for(c.pool, "sctp"), "ipfix-collectors");
  EXPECT_EQ(pool_handle_for(c.pool, "tcp"), "ipfix-collectors-tcp");
  EXPECT_EQ(pool_handle_for(c.pool, "udp"), "ipfix-collectors-udp");
  o.sets = {"pool.policy=fastest"};
  EXPECT_NE(error_of(o).find("pool.policy: unknown policy \"fastest\""), std::string::npos);
  o.sets = {"pool.reregistration_interval_ms=60000"};  // longer than the registration life
  EXPECT_NE(error_of(o).find("pool.reregistration_interval_ms: must be between 100 and 30000"),
            std::string::npos);
  o = {};
  o.registrars = {"127.0.0.1:3863"};
  EXPECT_NE(error_of(o).find("registrars without a pool handle"), std::string::npos);
}

TEST(CollectorConf, RegisterOnly) {
  CollectorOverrides o;
  o.pool = "third";
  o.registrars = {"127.0.0.1:3863"};
  o.register_only = true;
  EXPECT_NE(error_of(o).find("pool.targets: --register-only needs a collector to register"),
            std::string::npos);
  o.targets = {"udp:127.0.0.1:9995", "tcp:[::1]:4739", "sctp:127.0.0.1:4739/39911"};
  const CollectorConf c = load_collector_conf("", o);
  EXPECT_TRUE(c.pool.register_only);
  EXPECT_EQ(c.pool.targets.size(), 3u);
  o.listens = {"udp:127.0.0.1:9995"};
  EXPECT_NE(error_of(o).find("it does not listen"), std::string::npos);
  o.listens.clear();
  o.targets = {"udp:0.0.0.0:9995"};
  EXPECT_NE(error_of(o).find("needs a specific one"), std::string::npos);
  o.targets = {"tcp:[::]:4739"};
  EXPECT_NE(error_of(o).find("needs a specific one"), std::string::npos);
  o.targets = {"file:/tmp"};
  EXPECT_NE(error_of(o).find("expected sctp:HOST:PORT[/UDPPORT]"), std::string::npos);
  o.targets = {"sctp:127.0.0.1:4739/0"};
  EXPECT_NE(error_of(o).find("must be 1-65535"), std::string::npos);
  o.targets = {"udp:127.0.0.1:9995"};
  o.sets = {"pool.check_failures=0"};
  EXPECT_NE(error_of(o).find("pool.check_failures: must be between 1 and 1000"), std::string::npos);
  o.sets.clear();
  o.register_only = false;
  EXPECT_NE(error_of(o).find("targets are registered only with --register-only"),
            std::string::npos);
  o.pool.clear();
  o.registrars.clear();
  o.register_only = true;
  EXPECT_NE(error_of(o).find("--register-only needs a pool"), std::string::npos);
}

TEST(CollectorConf, ParseTarget) {
  Target t;
  EXPECT_EQ(parse_target("sctp:127.0.0.1:4739", t), "");
  EXPECT_EQ(t.kind, "sctp");
  EXPECT_EQ(t.port, 4739);
  EXPECT_EQ(t.udp_encaps_port, 9899);
  EXPECT_EQ(parse_target("sctp:[::1]:4740/39911", t), "");
  EXPECT_EQ(t.host, "[::1]");
  EXPECT_EQ(t.udp_encaps_port, 39911);
  EXPECT_EQ(parse_target("tcp:collector.example:4739", t), "");
  EXPECT_EQ(t.host, "collector.example");
  EXPECT_NE(parse_target("tcp:127.0.0.1:4739/39911", t), "");  // no encapsulation for TCP
  EXPECT_NE(parse_target("udp:127.0.0.1", t), "");
  EXPECT_NE(parse_target("udp", t), "");
}

}  // namespace
}  // namespace poolflow::conf
