/* A legacy POSIX message-queue sender, as container IPC examples write it: a hard-coded queue
 * name, mq_open with O_CREAT and its own attributes, mq_send in a loop. Plain C11 + POSIX, no
 * ipcmesh header: examples/classic/legacy-mq runs it UNMODIFIED next to the ipcmesh relay.
 *
 *   ipcmesh-example-legacy-mq-sender COUNT
 *
 * Sends "message 0" .. "message COUNT-1" (no terminating NUL) to /posix_mq_example, printing
 * "sent COUNT" at the end; exit 0. mq_send blocks while the queue is full, so nothing is lost
 * whatever the receiver's pace.
 *
 * If the queue already exists (the relay created it, or another program did), O_CREAT without
 * O_EXCL just opens it and the attributes below are ignored: the existing queue keeps its own
 * depth and message size. The program never unlinks the queue: whoever owns it does (in an
 * ipcmesh Pod, the relay; otherwise the IPC namespace dies with the Pod).
 *
 * Exit codes: 0 ok, 1 a system call failed (one line on stderr with the errno text), 2 usage. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define QUEUE_NAME "/posix_mq_example"
#define QUEUE_MAX_MESSAGES 10 /* the kernel's default fs.mqueue.msg_max */
#define QUEUE_MESSAGE_SIZE 256

static const char* const kProgram = "legacy-mq-sender";

/* COUNT: a decimal number >= 0; -1 when the text is not one. */
static long parse_count(const char* text) {
  char* end = NULL;
  errno = 0;
  const long value = strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < 0) return -1;
  return value;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: ipcmesh-example-legacy-mq-sender COUNT\n");
    return 2;
  }
  const long count = parse_count(argv[1]);
  if (count < 0) {
    fprintf(stderr, "%s: COUNT must be a whole number >= 0, not '%s'\n", kProgram, argv[1]);
    return 2;
  }

  struct mq_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.mq_maxmsg = QUEUE_MAX_MESSAGES;
  attr.mq_msgsize = QUEUE_MESSAGE_SIZE;
  const mqd_t queue = mq_open(QUEUE_NAME, O_CREAT | O_WRONLY, 0660, &attr);
  if (queue == (mqd_t)-1) {
    fprintf(stderr, "%s: mq_open(\"%s\", O_CREAT|O_WRONLY, 0660): %s\n", kProgram, QUEUE_NAME,
            strerror(errno));
    return 1;
  }

  char text[64];
  for (long i = 0; i < count; ++i) {
    const int length = snprintf(text, sizeof text, "message %ld", i);
    while (mq_send(queue, text, (size_t)length, 0) != 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      struct mq_attr actual;
      if (error == EMSGSIZE && mq_getattr(queue, &actual) == 0) {
        fprintf(stderr,
                "%s: mq_send(\"%s\") of message %ld (%d bytes): %s (the queue takes at most %ld "
                "bytes a message)\n",
                kProgram, QUEUE_NAME, i, length, strerror(error), (long)actual.mq_msgsize);
      } else {
        fprintf(stderr, "%s: mq_send(\"%s\") of message %ld: %s\n", kProgram, QUEUE_NAME, i,
                strerror(error));
      }
      mq_close(queue);
      return 1;
    }
  }
  if (mq_close(queue) != 0) {
    fprintf(stderr, "%s: mq_close(\"%s\"): %s\n", kProgram, QUEUE_NAME, strerror(errno));
    return 1;
  }
  printf("sent %ld\n", count);
  return 0;
}
