#include "conf/toml_reader.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

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

}  // namespace

toml::table load_table(const std::string& path, const std::vector<std::string>& sets,
                       std::set<std::string>& command_line_keys) {
  toml::table root;
  if (!path.empty()) {
    if (::access(path.c_str(), R_OK) != 0) throw ConfError(path + ": " + std::strerror(errno));
    try {
      root = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
      const auto& where = e.source().begin;
      throw ConfError(path + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) +
                      ": " + std::string(e.description()));
    }
  }
  for (const std::string& assignment : sets) command_line_keys.insert(apply_set(root, assignment));
  return root;
}

void Reader::fail(const std::string& key, const std::string& what) const {
  const std::string source = command_line_keys_.count(key) ? "command line"
                             : file_.empty()               ? "defaults"
                                                           : file_;
  throw ConfError(source + ": " + key + ": " + what);
}

void Reader::get(const std::string& key, bool& out) {
  if (const toml::node* n = find(key)) {
    if (!n->is_boolean()) fail(key, "expected a boolean (true/false), got " + describe(*n));
    out = n->as_boolean()->get();
  }
}

void Reader::get(const std::string& key, uint32_t& out) {
  if (const toml::node* n = find(key)) out = to_u32(key, *n);
}

void Reader::get(const std::string& key, uint16_t& out) {
  if (const toml::node* n = find(key)) {
    const uint32_t v = to_u32(key, *n);
    if (v > std::numeric_limits<uint16_t>::max())
      fail(key, "must be between 0 and 65535, got " + std::to_string(v));
    out = static_cast<uint16_t>(v);
  }
}

void Reader::get(const std::string& key, std::string& out) {
  if (const toml::node* n = find(key)) {
    if (!n->is_string()) fail(key, "expected a string, got " + describe(*n));
    out = n->as_string()->get();
  }
}

void Reader::get(const std::string& key, std::vector<std::string>& out) {
  if (const toml::node* n = find(key)) {
    if (!n->is_array()) fail(key, "expected an array of strings, got " + describe(*n));
    out.clear();
    for (const toml::node& item : *n->as_array()) {
      if (!item.is_string()) fail(key, "expected an array of strings, found " + describe(item));
      out.push_back(item.as_string()->get());
    }
  }
}

void Reader::get(const std::string& key, std::vector<uint32_t>& out) {
  if (const toml::node* n = find(key)) {
    if (!n->is_array()) fail(key, "expected an array of integers, got " + describe(*n));
    out.clear();
    for (const toml::node& item : *n->as_array()) out.push_back(to_u32(key, item));
  }
}

void Reader::reject_unknown_keys() const {
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

void Reader::check_range(const std::string& key, uint32_t value, uint32_t min, uint32_t max) const {
  if (value < min || value > max)
    fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
                  std::to_string(value));
}

void Reader::check_log_level(const std::string& key, const std::string& level) const {
  static const std::set<std::string> kLevels = {"trace", "debug",    "info", "warn",
                                                "error", "critical", "off"};
  if (!kLevels.count(level))
    fail(key, "unknown level \"" + level + "\" (trace, debug, info, warn, error, critical, off)");
}

const toml::node* Reader::find(const std::string& dotted) {
  read_.insert(dotted);
  const auto dot = dotted.find('.');
  return root_[dotted.substr(0, dot)][dotted.substr(dot + 1)].node();
}

uint32_t Reader::to_u32(const std::string& key, const toml::node& n) const {
  if (!n.is_integer()) fail(key, "expected an integer, got " + describe(n));
  const int64_t v = n.as_integer()->get();
  if (v < 0 || v > std::numeric_limits<uint32_t>::max())
    fail(key, "must be between 0 and 4294967295, got " + std::to_string(v));
  return static_cast<uint32_t>(v);
}

}  // namespace poolflow::conf
