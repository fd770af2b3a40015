#include "net/eal_args.h"

#include <fmt/format.h>

#include <regex>

namespace poolflow::net {

bool is_pci_address(const std::string& device) {
  static const std::regex kPci("^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\\.[0-7]$");
  return std::regex_match(device.substr(0, device.find(',')), kPci);  // "addr,devargs"
}

std::vector<std::string> build_eal_args(const EalPlan& plan) {
  std::vector<std::string> args{plan.program};

  std::string lcores = fmt::format("--lcores={}@{},{}@{}", kControlLcore, plan.control_core,
                                   kAggregatorLcore, plan.aggregator_core);
  for (size_t i = 0; i < plan.worker_cores.size(); ++i)
    lcores += fmt::format(",{}@{}", kFirstWorkerLcore + i, plan.worker_cores[i]);
  args.push_back(lcores);
  args.push_back("--main-lcore=" + std::to_string(kControlLcore));

  args.push_back("-m");
  args.push_back(std::to_string(plan.memory_mb));
  if (plan.hugepages) {
    args.push_back("--file-prefix=" + plan.file_prefix);
  } else {
    // Without hugepages there is nothing to share with secondary processes:
    // --no-shconf lets several poolflowd run side by side.
    args.push_back("--no-huge");
    args.push_back("--no-shconf");
  }

  bool any_pci = false;
  for (const std::string& device : plan.devices) {
    if (is_pci_address(device)) {
      args.push_back("-a");
      any_pci = true;
    } else {
      args.push_back("--vdev");
    }
    args.push_back(device);
  }
  if (!any_pci) args.push_back("--no-pci");

  args.push_back(plan.verbose ? "--log-level=info" : "--log-level=notice");
  args.insert(args.end(), plan.extra_args.begin(), plan.extra_args.end());
  return args;
}

}  // namespace poolflow::net
