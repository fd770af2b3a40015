// The EAL command line built from the conf file.
#include <gtest/gtest.h>

#include <algorithm>

#include "net/eal_args.h"

namespace poolflow::net {
namespace {

bool has(const std::vector<std::string>& args, const std::string& a) {
  return std::find(args.begin(), args.end(), a) != args.end();
}

TEST(EalArgs, LcoresPinnedToConfiguredCores) {
  EalPlan p;
  p.control_core = 0;
  p.aggregator_core = 1;
  p.worker_cores = {2, 3};
  const auto args = build_eal_args(p);
  EXPECT_TRUE(has(args, "--lcores=0@0,1@1,2@2,3@3"));
  EXPECT_TRUE(has(args, "--main-lcore=0"));
  EXPECT_TRUE(has(args, "--no-huge"));
  EXPECT_TRUE(has(args, "--no-shconf"));
  EXPECT_TRUE(has(args, "--no-pci"));
}

TEST(EalArgs, PciDevicesAreAllowListedAndVdevsAdded) {
  EalPlan p;
  p.worker_cores = {1};
  p.hugepages = true;
  p.file_prefix = "pf1";
  p.devices = {"0000:03:00.0", "net_null0"};
  p.extra_args = {"--socket-mem=1024"};
  const auto args = build_eal_args(p);
  const auto a = std::find(args.begin(), args.end(), "-a");
  ASSERT_NE(a, args.end());
  EXPECT_EQ(*(a + 1), "0000:03:00.0");
  const auto v = std::find(args.begin(), args.end(), "--vdev");
  ASSERT_NE(v, args.end());
  EXPECT_EQ(*(v + 1), "net_null0");
  EXPECT_FALSE(has(args, "--no-pci"));
  EXPECT_FALSE(has(args, "--no-huge"));
  EXPECT_TRUE(has(args, "--file-prefix=pf1"));
  EXPECT_EQ(args.back(), "--socket-mem=1024");
}

TEST(EalArgs, PciAddressForms) {
  EXPECT_TRUE(is_pci_address("0000:03:00.0"));
  EXPECT_TRUE(is_pci_address("af:00.1"));
  EXPECT_FALSE(is_pci_address("net_pcap0,rx_pcap=x"));
  EXPECT_FALSE(is_pci_address("0000:03:00.8"));
  EXPECT_TRUE(is_pci_address("0000:03:00.0,rxq_cqe_comp_en=0")) << "with device arguments";
}

}  // namespace
}  // namespace poolflow::net
