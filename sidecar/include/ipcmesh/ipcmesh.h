/* ipcmesh C API: open a channel by name (shared-memory ring or POSIX message queue), publish,
 * receive, close. For apps in C and any language with a C FFI (Go's cgo, Rust, Python ctypes).
 * Every call returns 0 or a positive ipcmesh_status; ipcmesh_last_error() gives the message of the
 * calling thread's last failure. Link with -lipcmesh. */
#ifndef IPCMESH_IPCMESH_H
#define IPCMESH_IPCMESH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ipcmesh_status {
  IPCMESH_OK = 0,
  IPCMESH_ERR_INVALID_ARGUMENT = 1,
  IPCMESH_ERR_NOT_FOUND = 2,
  IPCMESH_ERR_TIMEOUT = 3,
  IPCMESH_ERR_WOULD_BLOCK = 4,
  IPCMESH_ERR_MESSAGE_TOO_LARGE = 5,
  IPCMESH_ERR_CORRUPTED = 6,
  IPCMESH_ERR_LIMIT = 7,
  IPCMESH_ERR_OVERRUN = 8,
  IPCMESH_ERR_SYSTEM = 9
} ipcmesh_status;

typedef enum ipcmesh_transport {
  IPCMESH_SHARED_MEMORY = 0, /* broadcast ring: every subscriber gets every message */
  IPCMESH_MESSAGE_QUEUE = 1  /* work queue: each message goes to one receiver */
} ipcmesh_transport;

typedef enum ipcmesh_role {
  IPCMESH_PUBLISHER = 1, /* ipcmesh_publish only */
  IPCMESH_SUBSCRIBER = 2 /* ipcmesh_receive only */
} ipcmesh_role;

typedef struct ipcmesh_channel ipcmesh_channel;

/* Timeouts in milliseconds; -1 waits forever, 0 tries once. */
#define IPCMESH_WAIT_FOREVER (-1)

/* Opens a channel created by the relay. `name` is either a POSIX object name ("/ipcmesh.ns.name",
 * "/legacy_queue") or a channel name looked up in the IPCMESH_CHANNELS document injected into the
 * Pod. Waits up to timeout_ms for the object to exist.
 * A shared-memory subscriber waits for messages in the channel's sharedMemory.waitMode (Adaptive
 * for a POSIX name); IPCMESH_WAIT_MODE=Adaptive|SpinThenSleep|BusyPoll in the environment
 * overrides it (docs/protocol.md W3 says which to choose). A bad value is
 * IPCMESH_ERR_INVALID_ARGUMENT. */
int ipcmesh_open(const char* name, ipcmesh_transport transport, ipcmesh_role role, int timeout_ms,
                 ipcmesh_channel** out);
int ipcmesh_publish(ipcmesh_channel* channel, const void* data, size_t size, int timeout_ms);
/* Copies the next message into buffer; *size_out gets its size. IPCMESH_ERR_MESSAGE_TOO_LARGE
 * (nothing consumed, *size_out = needed size) when the buffer is too small. */
int ipcmesh_receive(ipcmesh_channel* channel, void* buffer, size_t capacity, size_t* size_out,
                    int timeout_ms);
/* Messages dropped for this subscriber so far (DropOldest), 0 for other roles. */
uint64_t ipcmesh_missed(const ipcmesh_channel* channel);
void ipcmesh_close(ipcmesh_channel* channel);
const char* ipcmesh_last_error(void);
const char* ipcmesh_version(void);

#ifdef __cplusplus
}
#endif

#endif /* IPCMESH_IPCMESH_H */
