// `poolflow-collector --merge DIR... --write ...`: the files of a pool's
// collectors made into one set with each record once.
//
// Delivery across a failover is at least once: the exporter exports again, as
// replayed records (their templates' ids plus ipfix::kReplayTemplateOffset),
// every reliable record the failed collector had not confirmed stored, and that
// collector may have stored some of them. A replayed record is a byte-for-byte
// copy of the original in the same observation domain, so the merge keeps every
// ordinary record, and a replayed one only when no ordinary record (nor an
// earlier replayed copy) has the same domain, layout and bytes; the ones kept
// go out under the ordinary template ids. Ordinary records are never merged with
// each other, whatever they contain. Sequence numbers of the merged set mean
// nothing (records are left out of messages).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "collector/output.h"

namespace poolflow::collector {

struct MergeStats {
  uint64_t files = 0;
  uint64_t messages = 0;
  uint64_t records = 0;             ///< flow records written
  uint64_t replayed = 0;            ///< replayed records read
  uint64_t duplicates = 0;          ///< of those, left out: stored already
  uint64_t discarded_messages = 0;  ///< undecodable, or cut off at a file's end
};

/// Reads the RFC 5655 files (*.ipfix) of `directories`, each directory's in
/// name order, and writes their records once each to `outputs`. Throws
/// std::runtime_error when a directory or file cannot be read.
MergeStats merge(const std::vector<std::string>& directories,
                 const std::vector<std::unique_ptr<Output>>& outputs);

}  // namespace poolflow::collector
