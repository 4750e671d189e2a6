/* The reference for bench/receive.ts: the simplest C receive loop there is.
 *
 *   plain_recv FD CHUNK CPU
 *
 * Takes a connected TCP socket as descriptor FD (inherited from the bench), pins itself to CPU
 * (-1: no pinning), makes the socket blocking and recv()s into one page-aligned, pre-faulted
 * buffer of CHUNK bytes until EOF. Prints "ready" once set up (the bench starts the sender
 * then), and at EOF one JSON line: bytes, wall seconds from "ready" to EOF, and this process's
 * user/system CPU seconds (getrusage RUSAGE_SELF; the process has one thread).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double seconds_of(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6; }

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: plain_recv FD CHUNK CPU\n");
    return 2;
  }
  int fd = atoi(argv[1]);
  size_t chunk = strtoul(argv[2], NULL, 10);
  int cpu = atoi(argv[3]);

  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
      perror("sched_setaffinity");
      return 1;
    }
  }
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    perror("fcntl");
    return 1;
  }
  /* mmap gives page alignment; touching every page keeps first-use faults out of the timing. */
  unsigned char *buffer = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buffer == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  memset(buffer, 0, chunk);

  printf("ready\n");
  fflush(stdout);

  struct rusage before, after;
  getrusage(RUSAGE_SELF, &before);
  double start = now();
  unsigned long long bytes = 0;
  for (;;) {
    ssize_t n = recv(fd, buffer, chunk, 0);
    if (n > 0) {
      bytes += (unsigned long long)n;
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      perror("recv");
      return 1;
    }
  }
  double elapsed = now() - start;
  getrusage(RUSAGE_SELF, &after);
  printf("{\"bytes\":%llu,\"seconds\":%.9f,\"userSeconds\":%.6f,\"systemSeconds\":%.6f}\n", bytes, elapsed,
         seconds_of(after.ru_utime) - seconds_of(before.ru_utime), seconds_of(after.ru_stime) - seconds_of(before.ru_stime));
  return 0;
}
