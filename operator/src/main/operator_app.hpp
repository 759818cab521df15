// Builds the operator from its config and runs it until SIGTERM/SIGINT or lost leadership:
// informers (IpcChannel, Pod; Namespace when a namespace label is checked) -> channel catalog
// (webhook) and work queue (controller);
// leader election gating the reconcile workers; the admission server on every replica; the
// health/metrics listener. Shutdown runs in reverse: workers, lease release, watches, servers.
#pragma once

#include "main/operator_config.hpp"

namespace ipcmesh::operator_main {

// Blocks SIGTERM/SIGINT in the calling thread and every thread started after it, so that
// run_operator receives them with sigtimedwait instead of a random pool thread dying. Call it
// first thing in main, before the cpprestsdk thread pool exists.
void block_shutdown_signals();

// Returns the process exit code: 0 after a graceful shutdown, 1 when leadership was lost (the
// Pod restarts clean, as client-go advises) or start-up failed.
int run_operator(const OperatorConfig& config);

}  // namespace ipcmesh::operator_main
