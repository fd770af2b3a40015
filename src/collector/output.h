// Where a collector puts what it received: every output sees each decoded
// message whole and each of its data records, under the collector's lock.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "ipfix/message_reader.h"

namespace poolflow::collector {

/// Writes every template of every open session as IPFIX messages through
/// `write`: what a new file needs before the data that follows.
using KnownTemplates =
    std::function<void(const std::function<void(std::span<const uint8_t>)>& write)>;

class Output {
 public:
  virtual ~Output() = default;

  /// A message that decoded (its templates already applied).
  virtual void message(std::span<const uint8_t> bytes, const KnownTemplates& known_templates) = 0;

  /// One data record of that message, before message() is called for it.
  virtual void record(const std::string& exporter, const ipfix::MessageHeader& header,
                      const ipfix::DecodedTemplate& tmpl, std::span<const uint8_t> record) = 0;

  /// Called about once a second and at exit: flush, rotate by time.
  virtual void tick(const KnownTemplates& known_templates) = 0;

  /// Hands everything given so far to the system (write(2)); false when some
  /// of it could not be, since the last call: it is not stored.
  virtual bool flush() = 0;

  virtual const std::string& name() const = 0;
};

}  // namespace poolflow::collector
