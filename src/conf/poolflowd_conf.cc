#include "conf/poolflowd_conf.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <set>
#include <thread>
#include <toml++/toml.h>

#include "poolflow/transport.h"

namespace poolflow::conf {

namespace {

std::string describe(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "a date or time";
  }
}

// Reads typed values out of the merged table, remembers which keys were read so
// that anything left over is reported as unknown, and names the source of a key
// (conf file or command line) in every error.
class Reader {
 public:
  Reader(const toml::table& root, std::string file, std::set<std::string> command_line_keys)
      : root_(root), file_(std::move(file)), command_line_keys_(std::move(command_line_keys)) {}

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    const std::string source = command_line_keys_.count(key) ? "command line"
                               : file_.empty()                ? "defaults"
                                                              : file_;
    throw ConfError(source + ": " + key + ": " + what);
  }

  void get(const std::string& key, bool& out) {
    if (const toml::node* n = find(key)) {
      if (!n->is_boolean()) fail(key, "expected a boolean (true/false), got " + describe(*n));
      out = n->as_boolean()->get();
    }
  }
  void get(const std::string& key, uint32_t& out) {
    if (const toml::node* n = find(key)) out = to_u32(key, *n);
  }
  void get(const std::string& key, std::string& out) {
    if (const toml::node* n = find(key)) {
      if (!n->is_string()) fail(key, "expected a string, got " + describe(*n));
      out = n->as_string()->get();
    }
  }
  void get(const std::string& key, std::vector<std::string>& out) {
    if (const toml::node* n = find(key)) {
      if (!n->is_array()) fail(key, "expected an array of strings, got " + describe(*n));
      out.clear();
      for (const toml::node& item : *n->as_array()) {
        if (!item.is_string()) fail(key, "expected an array of strings, found " + describe(item));
        out.push_back(item.as_string()->get());
      }
    }
  }
  void get(const std::string& key, std::vector<uint32_t>& out) {
    if (const toml::node* n = find(key)) {
      if (!n->is_array()) fail(key, "expected an array of integers, got " + describe(*n));
      out.clear();
      for (const toml::node& item : *n->as_array()) out.push_back(to_u32(key, item));
    }
  }

  void reject_unknown_keys() const {
    for (const auto& [section, node] : root_) {
      const std::string name(section.str());
      if (!node.is_table()) fail(name, "unknown key (settings belong in a [section])");
      bool known_section = false;
      for (const std::string& key : read_)
        if (key.compare(0, name.size() + 1, name + ".") == 0) known_section = true;
      if (!known_section) fail(name, "unknown section");
      for (const auto& [key, value] : *node.as_table())
        if (!read_.count(name + "." + std::string(key.str())))
          fail(name + "." + std::string(key.str()), "unknown key");
    }
  }

 private:
  const toml::node* find(const std::string& dotted) {
    read_.insert(dotted);
    const auto dot = dotted.find('.');
    return root_[dotted.substr(0, dot)][dotted.substr(dot + 1)].node();
  }

  uint32_t to_u32(const std::string& key, const toml::node& n) const {
    if (!n.is_integer()) fail(key, "expected an integer, got " + describe(n));
    const int64_t v = n.as_integer()->get();
    if (v < 0 || v > std::numeric_limits<uint32_t>::max())
      fail(key, "must be between 0 and 4294967295, got " + std::to_string(v));
    return static_cast<uint32_t>(v);
  }

  const toml::table& root_;
  std::string file_;
  std::set<std::string> command_line_keys_;
  std::set<std::string> read_;
};

// Parses "section.key=value" into `root`; value in TOML syntax, or a bare string.
std::string apply_set(toml::table& root, const std::string& assignment) {
  const auto equals = assignment.find('=');
  const std::string key = assignment.substr(0, std::min(equals, assignment.size()));
  const auto dot = key.find('.');
  if (equals == std::string::npos || dot == std::string::npos || dot == 0 ||
      dot + 1 == key.size() || key.find('.', dot + 1) != std::string::npos)
    throw ConfError("command line: --set " + assignment + ": expected section.key=value");
  const std::string value = assignment.substr(equals + 1);

  toml::table parsed;
  try {
    parsed = toml::parse("v = " + value);
  } catch (const toml::parse_error&) {
    parsed.insert_or_assign("v", value);  // not TOML: take it as a string
  }
  const std::string section = key.substr(0, dot);
  if (!root.contains(section)) root.insert(section, toml::table{});
  toml::table* table = root[section].as_table();
  if (table == nullptr) throw ConfError("command line: " + section + ": not a [section]");
  table->insert_or_assign(key.substr(dot + 1), std::move(*parsed.get("v")));
  return key;
}

void check_level(Reader& r, const std::string& level) {
  static const std::set<std::string> kLevels = {"trace", "debug", "info",    "warn",
                                                "error", "critical", "off"};
  if (!kLevels.count(level))
    r.fail("log.level",
           "unknown level \"" + level + "\" (trace, debug, info, warn, error, critical, off)");
}

void check_range(Reader& r, const std::string& key, uint32_t value, uint32_t min, uint32_t max) {
  if (value < min || value > max)
    r.fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                    ", got " + std::to_string(value));
}

void check_cores(Reader& r, const PoolflowdConf::Cpu& cpu) {
  const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  auto check_exists = [&](const std::string& key, uint32_t core) {
    if (core >= cpus)
      r.fail(key, "core " + std::to_string(core) + " does not exist (this machine has CPUs 0-" +
                      std::to_string(cpus - 1) + ")");
  };
  check_exists("cpu.control_core", cpu.control_core);
  check_exists("cpu.aggregator_core", cpu.aggregator_core);
  if (cpu.worker_cores.empty()) r.fail("cpu.worker_cores", "no worker core: at least one is needed");
  std::set<uint32_t> seen;
  for (uint32_t core : cpu.worker_cores) {
    check_exists("cpu.worker_cores", core);
    if (!seen.insert(core).second && cpu.exclusive)
      r.fail("cpu.worker_cores", "core " + std::to_string(core) +
                                     " is listed twice (cpu.exclusive = false allows it)");
  }
  if (!cpu.exclusive) return;
  if (seen.count(cpu.aggregator_core))
    r.fail("cpu.aggregator_core", "core " + std::to_string(cpu.aggregator_core) +
                                      " is also a worker core (a polling worker owns its core)");
  if (seen.count(cpu.control_core))
    r.fail("cpu.control_core", "core " + std::to_string(cpu.control_core) +
                                   " is also a worker core (a polling worker owns its core)");
}

void check_input(Reader& r, const PoolflowdConf& c) {
  const auto& in = c.input;
  if (!in.pcaps.empty() && !in.devices.empty())
    r.fail("input.pcaps", "input.pcaps and input.devices exclude each other");
  if (in.pcaps.empty() && in.devices.empty())
    r.fail("input.devices", "no input: name a port (PCI address or vdev) or replay a pcap (--pcap)");
  for (const std::string& pcap : in.pcaps) {
    if (pcap.find(',') != std::string::npos)
      r.fail("input.pcaps", pcap + ": a path with ',' cannot be passed to DPDK's net_pcap device");
    if (::access(pcap.c_str(), R_OK) != 0) r.fail("input.pcaps", pcap + ": " + std::strerror(errno));
  }
  check_range(r, "input.rx_descriptors", in.rx_descriptors, 64, 32768);
  check_range(r, "input.mbuf_cache_size", in.mbuf_cache_size, 0, 512);
  const uint64_t needed = uint64_t{in.rx_descriptors} * c.cpu.worker_cores.size() +
                          uint64_t{in.mbuf_cache_size} * (c.cpu.worker_cores.size() + 1) + 64;
  if (in.mbuf_pool_size < needed)
    r.fail("input.mbuf_pool_size",
           "must be at least " + std::to_string(needed) +
               " (rx_descriptors per worker + a cache per lcore + bursts), got " +
               std::to_string(in.mbuf_pool_size));
}

void check_export(Reader& r, const PoolflowdConf::Export& e) {
  if (e.outputs.empty())
    r.fail("export.outputs", "no output: add one (--output file:PATH)");
  for (const std::string& output : e.outputs)
    if (const std::string error = validate_transport_spec(output); !error.empty())
      r.fail("export.outputs", error);
  check_range(r, "export.max_message_size", e.max_message_size, 256, 65535);
  check_range(r, "export.flush_interval_ms", e.flush_interval_ms, 1, 60000);
}

}  // namespace

PoolflowdConf load_poolflowd_conf(const std::string& path, const CommandLineOverrides& overrides) {
  toml::table root;
  if (!path.empty()) {
    if (::access(path.c_str(), R_OK) != 0) throw ConfError(path + ": " + std::strerror(errno));
    try {
      root = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
      const auto& where = e.source().begin;
      throw ConfError(path + ":" + std::to_string(where.line) + ":" +
                      std::to_string(where.column) + ": " + std::string(e.description()));
    }
  }
  std::set<std::string> command_line_keys;
  for (const std::string& assignment : overrides.sets)
    command_line_keys.insert(apply_set(root, assignment));
  if (!overrides.pcaps.empty()) command_line_keys.insert("input.pcaps");
  if (!overrides.outputs.empty()) command_line_keys.insert("export.outputs");

  Reader r(root, path, command_line_keys);
  PoolflowdConf c;
  r.get("log.level", c.log.level);
  r.get("log.stats_interval_s", c.log.stats_interval_s);
  r.get("eal.memory_mb", c.eal.memory_mb);
  r.get("eal.hugepages", c.eal.hugepages);
  r.get("eal.file_prefix", c.eal.file_prefix);
  r.get("eal.extra_args", c.eal.extra_args);
  r.get("cpu.control_core", c.cpu.control_core);
  r.get("cpu.aggregator_core", c.cpu.aggregator_core);
  r.get("cpu.worker_cores", c.cpu.worker_cores);
  r.get("cpu.exclusive", c.cpu.exclusive);
  r.get("input.pcaps", c.input.pcaps);
  r.get("input.devices", c.input.devices);
  r.get("input.rx_descriptors", c.input.rx_descriptors);
  r.get("input.mbuf_pool_size", c.input.mbuf_pool_size);
  r.get("input.mbuf_cache_size", c.input.mbuf_cache_size);
  r.get("input.promiscuous", c.input.promiscuous);
  r.get("meter.flow_table_size", c.meter.flow_table_size);
  r.get("meter.idle_timeout_s", c.meter.idle_timeout_s);
  r.get("meter.active_timeout_s", c.meter.active_timeout_s);
  r.get("meter.tcp_end_grace_ms", c.meter.tcp_end_grace_ms);
  r.get("meter.expiry_slots_per_poll", c.meter.expiry_slots_per_poll);
  r.get("meter.ring_size", c.meter.ring_size);
  r.get("export.outputs", c.export_.outputs);
  r.get("export.observation_domain_id", c.export_.observation_domain_id);
  r.get("export.max_message_size", c.export_.max_message_size);
  r.get("export.flush_interval_ms", c.export_.flush_interval_ms);
  r.reject_unknown_keys();

  if (!overrides.pcaps.empty()) {
    c.input.pcaps = overrides.pcaps;
    c.input.devices.clear();
  }
  if (!overrides.outputs.empty()) c.export_.outputs = overrides.outputs;

  check_level(r, c.log.level);
  check_range(r, "eal.memory_mb", c.eal.memory_mb, 64, 1u << 20);
  check_cores(r, c.cpu);
  check_input(r, c);
  check_range(r, "meter.flow_table_size", c.meter.flow_table_size, 64, 1u << 28);
  check_range(r, "meter.idle_timeout_s", c.meter.idle_timeout_s, 1, 3600);
  // The flow entry keeps last - first in 23 bits of milliseconds.
  check_range(r, "meter.active_timeout_s", c.meter.active_timeout_s, 1, 8000);
  check_range(r, "meter.tcp_end_grace_ms", c.meter.tcp_end_grace_ms, 0, 60000);
  check_range(r, "meter.expiry_slots_per_poll", c.meter.expiry_slots_per_poll, 1, 1u << 16);
  check_range(r, "meter.ring_size", c.meter.ring_size, 1024, 1u << 24);
  check_export(r, c.export_);
  return c;
}

}  // namespace poolflow::conf
