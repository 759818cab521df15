// The constructors of the transports, one per source file; transport_registry.cpp orders them
// and substitutes a "not run" placeholder for those not compiled in.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "transport.hpp"

#ifdef IPCMESH_BENCH_HAVE_SHM
#include "ipcmesh/shm_channel.hpp"
#endif

namespace ipcmesh::bench {

// The reference row: a bare SPSC ring, the machine's floor (not a product).
std::unique_ptr<Transport> make_spsc_floor_transport();
std::unique_ptr<Transport> make_posix_mqueue_transport();
std::unique_ptr<Transport> make_unix_seqpacket_transport();
std::unique_ptr<Transport> make_tcp_loopback_transport();
#ifdef IPCMESH_BENCH_HAVE_SHM
// "ipcmesh-shm" (kAdaptive, the default), "ipcmesh-shm-spin" (kSpinThenSleep), "ipcmesh-shm-busy".
std::unique_ptr<Transport> make_ipcmesh_shm_transport(WaitMode mode);
#endif
#ifdef IPCMESH_BENCH_HAVE_MQ
std::unique_ptr<Transport> make_ipcmesh_mqueue_transport();
#endif
#ifdef IPCMESH_BENCH_HAVE_ICEORYX
// "iceoryx" (WaitSet) and "iceoryx-poll" (busy polling), sharing one RouDi daemon.
std::vector<std::unique_ptr<Transport>> make_iceoryx_transports();
#endif

// A transport that cannot run here; every row says why.
std::unique_ptr<Transport> make_unavailable_transport(std::string name, std::string description,
                                                      std::string reason);

}  // namespace ipcmesh::bench
