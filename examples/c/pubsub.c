/* A publisher or subscriber on an ipcmesh channel, in plain C11 with nothing but ipcmesh.h.
 *
 *   ipcmesh-example-pubsub publish   CHANNEL shm|mq COUNT [OPEN_TIMEOUT_MS]
 *   ipcmesh-example-pubsub subscribe CHANNEL shm|mq COUNT [TIMEOUT_MS]
 *   ipcmesh-example-pubsub version
 *
 * CHANNEL is a POSIX name ("/ipcmesh.default.pipeline") or, inside an injected Pod, a channel
 * name from IPCMESH_CHANNELS ("pipeline"). The relay creates the channel; this program only
 * opens it, waiting up to the timeout for it to appear.
 *
 * The publisher sends "message 0" .. "message COUNT-1". The subscriber prints "ready" once it is
 * attached, then one line per message ("received: message 7"), and exits 0 after COUNT messages.
 * On failure both print ipcmesh_last_error() and exit with the ipcmesh_status code.
 *
 * SIGTERM or SIGINT (Kubernetes stopping the Pod) ends both at once with exit 0 and a line
 * "stopped after N", also as a container's PID 1, where a signal without a handler is dropped:
 * long waits run in slices that check the flag the handler sets. */
#define _POSIX_C_SOURCE 200809L /* sigaction in strict C11 */

#include <ipcmesh/ipcmesh.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { kMaxMessage = 256, kSliceMs = 200, kStopped = -1 };

static volatile sig_atomic_t stop_requested = 0;

static void request_stop(int signal_number) {
  (void)signal_number;
  stop_requested = 1;
}

/* The next slice of a wait of timeout_ms (IPCMESH_WAIT_FOREVER: no end) of which waited_ms
 * passed; 0 when it is over. */
static int next_slice(int timeout_ms, int waited_ms) {
  if (timeout_ms == IPCMESH_WAIT_FOREVER || timeout_ms - waited_ms > kSliceMs) return kSliceMs;
  return timeout_ms - waited_ms;
}

static int publish_in_slices(ipcmesh_channel* channel, const char* text, size_t length) {
  for (int waited = 0, slice; (slice = next_slice(IPCMESH_WAIT_FOREVER, waited)) > 0;
       waited += slice) {
    const int status = ipcmesh_publish(channel, text, length, slice);
    if (status != IPCMESH_ERR_TIMEOUT) return status;
    if (stop_requested) return kStopped;
  }
  return IPCMESH_ERR_TIMEOUT;
}

static int receive_in_slices(ipcmesh_channel* channel, char* buffer, size_t* size, int timeout_ms) {
  int status = IPCMESH_ERR_TIMEOUT;
  for (int waited = 0, slice; (slice = next_slice(timeout_ms, waited)) > 0; waited += slice) {
    status = ipcmesh_receive(channel, buffer, kMaxMessage, size, slice);
    if (status != IPCMESH_ERR_TIMEOUT) return status;
    if (stop_requested) return kStopped;
  }
  return status;
}

static int usage(void) {
  fprintf(stderr,
          "usage: ipcmesh-example-pubsub publish|subscribe CHANNEL shm|mq COUNT [TIMEOUT_MS]\n"
          "       ipcmesh-example-pubsub version\n");
  return 64; /* EX_USAGE */
}

static int failed(const char* what, int status) {
  fprintf(stderr, "%s failed (status %d): %s\n", what, status, ipcmesh_last_error());
  return status;
}

static int publish(ipcmesh_channel* channel, long count) {
  char text[kMaxMessage];
  for (long i = 0; i < count; ++i) {
    const int length = snprintf(text, sizeof text, "message %ld", i);
    const int status = publish_in_slices(channel, text, (size_t)length);
    if (status == kStopped || stop_requested) {
      printf("stopped after %ld\n", i);
      return 0;
    }
    if (status != IPCMESH_OK) return failed("ipcmesh_publish", status);
  }
  printf("published %ld\n", count);
  return 0;
}

static int subscribe(ipcmesh_channel* channel, long count, int timeout_ms) {
  /* A deliberately small buffer would also work: ipcmesh_receive then says
   * IPCMESH_ERR_MESSAGE_TOO_LARGE with the size it needs, and consumes nothing. */
  char buffer[kMaxMessage + 1];
  for (long i = 0; i < count; ++i) {
    size_t size = 0;
    const int status = receive_in_slices(channel, buffer, &size, timeout_ms);
    if (status == kStopped) {
      printf("stopped after %ld\n", i);
      return 0;
    }
    if (status != IPCMESH_OK) return failed("ipcmesh_receive", status);
    buffer[size] = '\0';
    printf("received: %s\n", buffer);
  }
  if (ipcmesh_missed(channel) > 0) {
    printf("missed %llu\n", (unsigned long long)ipcmesh_missed(channel));
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "version") == 0) {
    printf("ipcmesh %s\n", ipcmesh_version());
    return 0;
  }
  if (argc < 5 || argc > 6) return usage();
  struct sigaction stop;
  memset(&stop, 0, sizeof stop);
  stop.sa_handler = request_stop;
  sigemptyset(&stop.sa_mask);
  sigaction(SIGTERM, &stop, NULL);
  sigaction(SIGINT, &stop, NULL);
  const int publisher = strcmp(argv[1], "publish") == 0;
  if (!publisher && strcmp(argv[1], "subscribe") != 0) return usage();
  ipcmesh_transport transport;
  if (strcmp(argv[3], "shm") == 0) {
    transport = IPCMESH_SHARED_MEMORY;
  } else if (strcmp(argv[3], "mq") == 0) {
    transport = IPCMESH_MESSAGE_QUEUE;
  } else {
    return usage();
  }
  const long count = strtol(argv[4], NULL, 10);
  const int timeout_ms = argc == 6 ? atoi(argv[5]) : 10000;
  if (count < 0) return usage();

  ipcmesh_channel* channel = NULL;
  const int status =
      ipcmesh_open(argv[2], transport, publisher ? IPCMESH_PUBLISHER : IPCMESH_SUBSCRIBER,
                   timeout_ms, &channel);
  if (status != IPCMESH_OK) return failed("ipcmesh_open", status);
  if (!publisher) {
    printf("ready\n");
  }
  fflush(stdout);
  const int rc = publisher ? publish(channel, count) : subscribe(channel, count, timeout_ms);
  ipcmesh_close(channel);
  return rc;
}
