// What every program's conf loader shares: the TOML file merged with
// "--set section.key=value" overrides, typed reads that remember the keys they
// read (anything left over is an unknown key), and errors of one line that name
// where the value came from.
#pragma once

#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <toml++/toml.h>
#include <vector>

namespace poolflow::conf {

/// A refused configuration: what() is one line naming where the value came from
/// (the conf file or the command line), the key and what is wrong.
class ConfError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Reads `path` (an empty table when `path` is empty) and applies each
/// "section.key=value" of `sets` over it (value in TOML syntax, or a bare
/// string). Adds the overridden keys to `command_line_keys`. Throws ConfError.
toml::table load_table(const std::string& path, const std::vector<std::string>& sets,
                       std::set<std::string>& command_line_keys);

class Reader {
 public:
  Reader(const toml::table& root, std::string file, std::set<std::string> command_line_keys)
      : root_(root), file_(std::move(file)), command_line_keys_(std::move(command_line_keys)) {}

  [[noreturn]] void fail(const std::string& key, const std::string& what) const;

  /// Each get() leaves `out` as it is when the key is absent.
  void get(const std::string& key, bool& out);
  void get(const std::string& key, uint32_t& out);
  void get(const std::string& key, uint16_t& out);
  void get(const std::string& key, std::string& out);
  void get(const std::string& key, std::vector<std::string>& out);
  void get(const std::string& key, std::vector<uint32_t>& out);

  /// Fails on the first key or section that no get() asked for.
  void reject_unknown_keys() const;

  void check_range(const std::string& key, uint32_t value, uint32_t min, uint32_t max) const;
  void check_log_level(const std::string& key, const std::string& level) const;

 private:
  const toml::node* find(const std::string& dotted);
  uint32_t to_u32(const std::string& key, const toml::node& n) const;

  const toml::table& root_;
  std::string file_;
  std::set<std::string> command_line_keys_;
  std::set<std::string> read_;
};

}  // namespace poolflow::conf
