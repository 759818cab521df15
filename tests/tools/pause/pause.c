/* The local node's pause image: the sandbox's first process. Sleeps until signalled, reaps the
 * children that end up re-parented to it, and exits 0 at once on SIGINT or SIGTERM. Static, no libc
 * at run time: built with `gcc -Os -static -s` by build-pause-image.sh. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) { (void)sig; _exit(0); }

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(void) {
  struct sigaction stop_action = {.sa_handler = stop}, reap_action = {.sa_handler = reap};
  sigaction(SIGINT, &stop_action, NULL);
  sigaction(SIGTERM, &stop_action, NULL);
  reap_action.sa_flags = SA_NOCLDSTOP | SA_RESTART;
  sigaction(SIGCHLD, &reap_action, NULL);
  for (;;) pause();
}
