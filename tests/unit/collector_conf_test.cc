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

}  // namespace
}  // namespace poolflow::conf
