/* A legacy POSIX message-queue receiver, the partner of legacy_mq_sender.c: a hard-coded queue
 * name, mq_open with O_CREAT (so either program may start first in one IPC namespace), and
 * mq_receive in a loop. Plain C11 + POSIX, no ipcmesh header: examples/classic/legacy-mq runs it
 * UNMODIFIED next to the ipcmesh relay.
 *
 *   ipcmesh-example-legacy-mq-receiver COUNT
 *
 * Receives COUNT messages from /posix_mq_example, printing each on its own line as it arrives,
 * then "received COUNT"; exit 0. mq_receive blocks while the queue is empty.
 *
 * The receive buffer is sized from mq_getattr, not from the attributes passed to mq_open: when
 * the queue already exists (created by the relay with 8Ki messages, say) those attributes are
 * ignored, and a buffer smaller than the queue's mq_msgsize makes every mq_receive fail with
 * EMSGSIZE. The program never unlinks the queue: whoever owns it does.
 *
 * Exit codes: 0 ok, 1 a system call failed (one line on stderr with the errno text), 2 usage. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define QUEUE_NAME "/posix_mq_example"
#define QUEUE_MAX_MESSAGES 10 /* the kernel's default fs.mqueue.msg_max */
#define QUEUE_MESSAGE_SIZE 256

static const char* const kProgram = "legacy-mq-receiver";

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
    fprintf(stderr, "usage: ipcmesh-example-legacy-mq-receiver COUNT\n");
    return 2;
  }
  const long count = parse_count(argv[1]);
  if (count < 0) {
    fprintf(stderr, "%s: COUNT must be a whole number >= 0, not '%s'\n", kProgram, argv[1]);
    return 2;
  }
  /* A container's stdout is a pipe: print each message when it arrives, not in 4 KiB blocks. */
  setvbuf(stdout, NULL, _IOLBF, 0);

  struct mq_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.mq_maxmsg = QUEUE_MAX_MESSAGES;
  attr.mq_msgsize = QUEUE_MESSAGE_SIZE;
  const mqd_t queue = mq_open(QUEUE_NAME, O_CREAT | O_RDONLY, 0660, &attr);
  if (queue == (mqd_t)-1) {
    fprintf(stderr, "%s: mq_open(\"%s\", O_CREAT|O_RDONLY, 0660): %s\n", kProgram, QUEUE_NAME,
            strerror(errno));
    return 1;
  }
  struct mq_attr actual;
  if (mq_getattr(queue, &actual) != 0) {
    fprintf(stderr, "%s: mq_getattr(\"%s\"): %s\n", kProgram, QUEUE_NAME, strerror(errno));
    mq_close(queue);
    return 1;
  }
  const size_t capacity = (size_t)actual.mq_msgsize;
  char* buffer = malloc(capacity);
  if (buffer == NULL) {
    fprintf(stderr, "%s: malloc(%zu): %s\n", kProgram, capacity, strerror(errno));
    mq_close(queue);
    return 1;
  }

  int status = 0;
  long received = 0;
  while (received < count) {
    unsigned priority = 0;
    const ssize_t size = mq_receive(queue, buffer, capacity, &priority);
    if (size < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "%s: mq_receive(\"%s\") after %ld messages: %s\n", kProgram, QUEUE_NAME,
              received, strerror(errno));
      status = 1;
      break;
    }
    fwrite(buffer, 1, (size_t)size, stdout);
    fputc('\n', stdout);
    ++received;
  }
  free(buffer);
  if (mq_close(queue) != 0 && status == 0) {
    fprintf(stderr, "%s: mq_close(\"%s\"): %s\n", kProgram, QUEUE_NAME, strerror(errno));
    status = 1;
  }
  if (status == 0) printf("received %ld\n", count);
  return status;
}
