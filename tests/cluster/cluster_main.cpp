// The cluster tier's main: one control plane for every test in the binary (see cluster.hpp).
#include <gtest/gtest.h>

#include "cluster.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new ipcmesh::cluster::ClusterEnvironment);
  return RUN_ALL_TESTS();
}
