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
 * On failure both print ipcmesh_last_error() and exit with the ipcmesh_status code. */
#include <ipcmesh/ipcmesh.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { kMaxMessage = 256 };

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
    const int status = ipcmesh_publish(channel, text, (size_t)length, IPCMESH_WAIT_FOREVER);
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
    const int status = ipcmesh_receive(channel, buffer, kMaxMessage, &size, timeout_ms);
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
