// docs/channel-contract.md states the contract for humans and channel_spec.hpp for code; the
// header says to keep the two in step. This keeps the relay container's names in step.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "ipcmesh/channel_spec.hpp"

namespace ipcmesh {
namespace {

std::string contract_doc() {
  std::ifstream in(std::string(IPCMESH_SOURCE_DIR) + "/docs/channel-contract.md");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every constant the webhook and the relay share appears in the doc's table by name and value.
TEST(ChannelContractDoc, NamesEveryRelayContainerConstantWithItsValue) {
  const std::string doc = contract_doc();
  ASSERT_FALSE(doc.empty());
  const std::vector<std::pair<std::string, std::string_view>> constants = {
      {"kRelayListenFlag", kRelayListenFlag},
      {"kRelayHealthzPath", kRelayHealthzPath},
      {"kRelayReadyzPath", kRelayReadyzPath},
      {"kRelayMetricsPath", kRelayMetricsPath},
      {"kRelayMetricsPortName", kRelayMetricsPortName},
      {"kDefaultControlDir", kDefaultControlDir},
      {"kEnvPodName", kEnvPodName},
      {"kEnvPodNamespace", kEnvPodNamespace},
      {"kEnvChannels", kEnvChannels},
      {"kEnvControlDir", kEnvControlDir},
  };
  for (const auto& [name, value] : constants) {
    EXPECT_NE(doc.find("`" + name + "`"), std::string::npos) << name;
    EXPECT_NE(doc.find("`" + std::string(value) + "`"), std::string::npos)
        << name << " = " << value;
  }
}

}  // namespace
}  // namespace ipcmesh
