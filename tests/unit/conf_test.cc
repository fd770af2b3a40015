// poolflowd conf: defaults, the shipped conf file, overrides and refusals.
#include <gtest/gtest.h>

#include <fstream>

#include "conf/poolflowd_conf.h"

namespace poolflow::conf {
namespace {

const std::string kShippedConf = std::string(POOLFLOW_SOURCE_DIR) + "/conf/poolflowd.toml";

// A minimal runnable configuration: an input and an output.
CommandLineOverrides runnable(std::vector<std::string> more = {}) {
  CommandLineOverrides o;
  o.sets = {"input.devices=[\"net_null0\"]", "export.outputs=[\"file:/tmp/x.ipfix\"]"};
  o.sets.insert(o.sets.end(), more.begin(), more.end());
  return o;
}

std::string write_conf(const std::string& text) {
  const std::string path = ::testing::TempDir() + "/poolflowd_test.toml";
  std::ofstream(path) << text;
  return path;
}

std::string error_of(const std::string& path, const CommandLineOverrides& o) {
  try {
    load_poolflowd_conf(path, o);
  } catch (const ConfError& e) {
    return e.what();
  }
  return "";
}

TEST(PoolflowdConf, ShippedFileShowsEveryDefault) {
  EXPECT_EQ(load_poolflowd_conf(kShippedConf, runnable()), load_poolflowd_conf("", runnable()));
}

TEST(PoolflowdConf, SetOverridesTypedValues) {
  const PoolflowdConf c =
      load_poolflowd_conf("", runnable({"meter.idle_timeout_s=30", "cpu.worker_cores=[1]",
                                        "input.promiscuous=false", "log.level=debug"}));
  EXPECT_EQ(c.meter.idle_timeout_s, 30u);
  EXPECT_FALSE(c.input.promiscuous);
  EXPECT_EQ(c.log.level, "debug");
}

TEST(PoolflowdConf, PcapAndOutputShorthandsReplaceTheFile) {
  const std::string pcap = write_conf("not really a pcap");
  CommandLineOverrides o = runnable();
  o.pcaps = {pcap};
  o.outputs = {"file:/tmp/y.ipfix"};
  const PoolflowdConf c = load_poolflowd_conf("", o);
  EXPECT_EQ(c.input.pcaps, std::vector<std::string>{pcap});
  EXPECT_TRUE(c.input.devices.empty());
  EXPECT_EQ(c.export_.outputs, std::vector<std::string>{"file:/tmp/y.ipfix"});
}

TEST(PoolflowdConf, UnknownKeyNamesFileAndKey) {
  const std::string path = write_conf("[meter]\nidle_timeout = 5\n");
  EXPECT_EQ(error_of(path, runnable()), path + ": meter.idle_timeout: unknown key");
}

TEST(PoolflowdConf, UnknownSection) {
  const std::string path = write_conf("[metering]\nidle_timeout_s = 5\n");
  EXPECT_EQ(error_of(path, runnable()), path + ": metering: unknown section");
}

TEST(PoolflowdConf, WrongType) {
  const std::string path = write_conf("[meter]\nidle_timeout_s = \"15\"\n");
  EXPECT_EQ(error_of(path, runnable()),
            path + ": meter.idle_timeout_s: expected an integer, got a string");
}

TEST(PoolflowdConf, NegativeNumber) {
  EXPECT_NE(error_of("", runnable({"meter.ring_size=-1"})).find("meter.ring_size: must be between"),
            std::string::npos);
}

TEST(PoolflowdConf, SyntaxErrorGivesLine) {
  const std::string path = write_conf("[meter]\nidle_timeout_s = = 3\n");
  EXPECT_EQ(error_of(path, runnable()).rfind(path + ":2:", 0), 0u) << error_of(path, runnable());
}

TEST(PoolflowdConf, NoWorkers) {
  EXPECT_EQ(error_of("", runnable({"cpu.worker_cores=[]"})),
            "command line: cpu.worker_cores: no worker core: at least one is needed");
}

TEST(PoolflowdConf, WorkerOnTheAggregatorCore) {
  const std::string path = write_conf("[cpu]\naggregator_core = 1\nworker_cores = [1]\n");
  EXPECT_EQ(error_of(path, runnable()),
            path +
                ": cpu.aggregator_core: core 1 is also a worker core (a polling worker owns "
                "its core)");
}

TEST(PoolflowdConf, SharedCoresOnlyWhenNotExclusive) {
  EXPECT_NE(error_of("", runnable({"cpu.worker_cores=[1,1]"})).find("listed twice"),
            std::string::npos);
  const PoolflowdConf c = load_poolflowd_conf(
      "", runnable({"cpu.exclusive=false", "cpu.worker_cores=[1,0]", "cpu.aggregator_core=0"}));
  EXPECT_EQ(c.cpu.worker_cores.size(), 2u);
}

TEST(PoolflowdConf, CoreThatDoesNotExist) {
  EXPECT_NE(error_of("", runnable({"cpu.worker_cores=[4096]"})).find("core 4096 does not exist"),
            std::string::npos);
}

TEST(PoolflowdConf, MissingPcap) {
  CommandLineOverrides o = runnable();
  o.pcaps = {"/nonexistent/capture.pcap"};
  EXPECT_EQ(error_of("", o),
            "command line: input.pcaps: /nonexistent/capture.pcap: No such file or directory");
}

TEST(PoolflowdConf, MoreCapturesThanWorkers) {
  const std::string pcap = write_conf("not really a pcap");
  CommandLineOverrides o;
  o.pcaps = {pcap, pcap};
  o.outputs = {"file:/tmp/x"};
  EXPECT_NE(error_of("", o).find("input.pcaps: 2 captures need as many worker cores"),
            std::string::npos);
}

TEST(PoolflowdConf, NoInput) {
  CommandLineOverrides o;
  o.outputs = {"file:/tmp/x"};
  EXPECT_NE(error_of("", o).find("input.devices: no input"), std::string::npos);
}

TEST(PoolflowdConf, BadOutput) {
  CommandLineOverrides o = runnable();
  o.outputs = {"ftp:somewhere"};
  EXPECT_EQ(error_of("", o),
            "command line: export.outputs: unknown output kind \"ftp\" (expected file, sctp, tcp "
            "or udp)");
  o.outputs = {"sctp:127.0.0.1"};
  EXPECT_EQ(error_of("", o),
            "command line: export.outputs: sctp: expected HOST:PORT (port 1-65535), got "
            "\"127.0.0.1\"");
  o.outputs = {"udp:::1:4739"};
  EXPECT_NE(error_of("", o).find("IPv6 address in brackets"), std::string::npos);
}

TEST(PoolflowdConf, ReliabilityClasses) {
  CommandLineOverrides o = runnable({"export.tcp_flows=\"ttl:250\"", "export.other_flows=rtx:3"});
  EXPECT_EQ(error_of("", o), "");
  o.sets = {"export.other_flows=partial"};
  EXPECT_EQ(error_of("", runnable(o.sets)),
            "command line: export.other_flows: expected \"reliable\", \"ttl:MS\" (1-600000) or "
            "\"rtx:N\" (0-100), got \"partial\"");
  EXPECT_NE(error_of("", runnable({"sctp.remote_udp_port=70000"}))
                .find("sctp.remote_udp_port: must "
                      "be between 0 and 65535"),
            std::string::npos);
}

TEST(PoolflowdConf, PoolReplacesTheOutputsUnlessOutputIsGiven) {
  CommandLineOverrides o = runnable();
  o.pool = "ipfix-collectors";
  o.registrars = {"127.0.0.1:3863"};
  PoolflowdConf c = load_poolflowd_conf("", o);
  EXPECT_EQ(c.export_.outputs, std::vector<std::string>{"pool:ipfix-collectors"});
  EXPECT_EQ(c.pool.handle, "ipfix-collectors");
  EXPECT_EQ(c.pool.registrars, std::vector<std::string>{"127.0.0.1:3863"});
  o.outputs = {"file:/tmp/y.ipfix"};
  c = load_poolflowd_conf("", o);
  EXPECT_EQ(c.export_.outputs,
            (std::vector<std::string>{"file:/tmp/y.ipfix", "pool:ipfix-collectors"}));
}

TEST(PoolflowdConf, PoolOutputNamesTheHandle) {
  const PoolflowdConf c = load_poolflowd_conf(
      "", runnable({"export.outputs=[\"pool:p\"]", "pool.registrars=[\"127.0.0.1:3863/9899\"]",
                    "pool.sessions=3"}));
  EXPECT_EQ(c.pool.handle, "p");
  EXPECT_EQ(c.pool.sessions, 3u);
}

TEST(PoolflowdConf, PoolRefusals) {
  auto error = [](std::vector<std::string> sets) { return error_of("", runnable(sets)); };
  EXPECT_EQ(error({"export.outputs=[\"pool:p\"]"}),
            "defaults: pool.registrars: no registrar to ask: add one (--registrar "
            "HOST:PORT) or set pool.announces = true");
  EXPECT_EQ(error({"export.outputs=[\"pool:p\", \"pool:q\"]", "pool.registrars=[\"h:1\"]"}),
            "command line: export.outputs: \"pool:q\" names another pool than pool.handle \"p\" "
            "(one pool per poolflowd)");
  EXPECT_EQ(error({"pool.handle=\"p\"", "pool.registrars=[\"h:1\"]"}),
            "command line: pool.handle: no output exports to it: add \"pool:p\" to "
            "export.outputs (or give --pool)");
  EXPECT_NE(error({"export.outputs=[\"pool:p\"]", "pool.registrars=[\"127.0.0.1\"]"})
                .find("pool.registrars"),
            std::string::npos);
  EXPECT_NE(error({"export.outputs=[\"pool:p\"]", "pool.registrars=[\"h:1\"]", "pool.sessions=0"})
                .find("pool.sessions: must be between 1 and 64"),
            std::string::npos);
  EXPECT_EQ(error({"export.outputs=[\"pool:p\"]", "pool.announces=true",
                   "pool.announce_group=\"10.0.0.1\""}),
            "command line: pool.announce_group: expected an IPv4 multicast address, got "
            "\"10.0.0.1\"");
  EXPECT_EQ(error({"export.outputs=[\"pool:p\"]", "pool.announces=true"}), "")
      << "announces alone find a registrar";
}

TEST(PoolflowdConf, MalformedSet) {
  EXPECT_EQ(error_of("", runnable({"idle_timeout_s=3"})),
            "command line: --set idle_timeout_s=3: expected section.key=value");
}

TEST(PoolflowdConf, MissingConfFile) {
  EXPECT_NE(error_of("/nonexistent/poolflowd.toml", runnable()).find("/nonexistent/poolflowd.toml"),
            std::string::npos);
}

}  // namespace
}  // namespace poolflow::conf
