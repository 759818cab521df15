#include <gtest/gtest.h>

#include "e2e.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new ipcmesh::e2e::E2eEnvironment);  // gtest owns it
  return RUN_ALL_TESTS();
}
