// The EAL command line poolflowd builds from its conf file: lcores pinned to
// the configured CPUs, memory, devices. Kept free of EAL calls so it is tested
// as plain strings.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace poolflow::net {

/// EAL lcore ids: the control core runs main(), then the aggregation thread,
/// then one lcore per worker.
inline constexpr unsigned kControlLcore = 0;
inline constexpr unsigned kAggregatorLcore = 1;
inline constexpr unsigned kFirstWorkerLcore = 2;

struct EalPlan {
  std::string program = "poolflowd";
  uint32_t control_core = 0;
  uint32_t aggregator_core = 0;
  std::vector<uint32_t> worker_cores;
  uint32_t memory_mb = 512;
  bool hugepages = false;
  std::string file_prefix;
  std::vector<std::string> devices;  ///< PCI addresses or vdev specifications
  bool verbose = false;              ///< EAL's own info messages
  std::vector<std::string> extra_args;
};

/// True for a PCI address such as "0000:03:00.0" or "03:00.0".
bool is_pci_address(const std::string& device);

std::vector<std::string> build_eal_args(const EalPlan& plan);

}  // namespace poolflow::net
