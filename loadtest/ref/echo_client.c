/*
 * The reference load client: the least a client can do per message, to measure echoload's own
 * cost against. One thread, one edge-triggered epoll loop, N connections, one message in flight
 * on each (closed loop); each reply is read whole and compared with the expected bytes (the
 * message uppercased, or unchanged with -e), as echoload checks it. With -m M a connection is
 * closed after M replies and a new one opened in its place at once: -m 1 is the plain
 * connect-send-receive-close loop that measures a server's accept path.
 *
 * It prints one line:  messages N connections N seconds S msgs_per_sec X conns_per_sec Y errors E
 * counting what completed inside the measured window (after the warm-up).
 *
 *   cc -O2 -o echo_client echo_client.c
 *   ./echo_client -p 7007 [-a 127.0.0.1] [-c 16] [-s 64] [-w 0.3] [-d 1] [-m 0] [-e]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
  int fd;
  size_t got;         /* bytes of the current reply received */
  unsigned long left; /* replies before this connection is replaced; 0 = never */
  int up;             /* connected and the first message sent */
};

static struct sockaddr_in target;
static size_t size = 64;
static unsigned long per_conn;
static char *message, *expected, *buf;
static int ep;
static unsigned long errors;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Opens a non-blocking connection; the first EPOLLOUT edge says it is up, then the message goes. */
static int open_conn(struct conn *c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) return -1;
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->got = 0;
  c->left = per_conn;
  c->up = 0;
  if (connect(c->fd, (struct sockaddr *)&target, sizeof target) != 0 && errno != EINPROGRESS) {
    close(c->fd);
    return -1;
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
  return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static int send_message(struct conn *c) {
  return write(c->fd, message, size) == (ssize_t)size ? 0 : -1;
}

int main(int argc, char **argv) {
  const char *addr = "127.0.0.1";
  int port = 0, conns = 16, echo = 0;
  double warmup = 0.3, duration = 1.0;
  for (int opt; (opt = getopt(argc, argv, "a:p:c:s:w:d:m:e")) != -1;) {
    switch (opt) {
      case 'a': addr = optarg; break;
      case 'p': port = atoi(optarg); break;
      case 'c': conns = atoi(optarg); break;
      case 's': size = (size_t)atol(optarg); break;
      case 'w': warmup = atof(optarg); break;
      case 'd': duration = atof(optarg); break;
      case 'm': per_conn = strtoul(optarg, NULL, 10); break;
      case 'e': echo = 1; break;
      default:
        fprintf(stderr, "usage: %s -p PORT [-a ADDR] [-c CONNS] [-s SIZE] [-w WARMUP_S] "
                        "[-d SECONDS] [-m MSGS_PER_CONN] [-e]\n", argv[0]);
        return 2;
    }
  }
  if (port <= 0 || conns <= 0 || size == 0) {
    fprintf(stderr, "echo_client: -p PORT is required; -c and -s must be positive\n");
    return 2;
  }
  target.sin_family = AF_INET;
  target.sin_port = htons((unsigned short)port);
  if (inet_pton(AF_INET, addr, &target.sin_addr) != 1) {
    fprintf(stderr, "echo_client: -a %s: not an IPv4 address\n", addr);
    return 2;
  }
  message = malloc(size);
  expected = malloc(size);
  buf = malloc(size + 1);
  for (size_t i = 0; i < size; ++i) {
    message[i] = (char)((i % 2 ? 'a' : 'A') + i % 26);
    expected[i] = echo ? message[i] : (char)(message[i] & ~0x20);
  }
  ep = epoll_create1(0);
  struct conn *all = calloc((size_t)conns, sizeof *all);
  for (int i = 0; i < conns; ++i) {
    if (open_conn(&all[i]) != 0) {
      perror("echo_client: connect");
      return 1;
    }
  }

  const double start = now(), measure_from = start + warmup, end = measure_from + duration;
  unsigned long messages = 0, opened = 0;
  struct epoll_event events[256];
  for (double t = start; t < end; t = now()) {
    const int n = epoll_wait(ep, events, 256, 10);
    if (n < 0 && errno != EINTR) {
      perror("echo_client: epoll_wait");
      return 1;
    }
    const int measuring = t >= measure_from;
    for (int i = 0; i < n; ++i) {
      struct conn *c = events[i].data.ptr;
      if (events[i].events & (EPOLLERR | EPOLLHUP)) {
        ++errors;
        close(c->fd);
        if (open_conn(c) != 0) ++errors;
        continue;
      }
      if ((events[i].events & EPOLLOUT) && !c->up) {
        /* Connected (the first writable edge): send the first message. */
        c->up = 1;
        opened += (unsigned long)measuring;
        if (send_message(c) != 0) ++errors;
      }
      if (!(events[i].events & EPOLLIN)) continue;
      for (;;) {
        const ssize_t r = read(c->fd, buf + c->got, size + 1 - c->got);
        if (r < 0 && errno == EAGAIN) break;
        if (r <= 0 || c->got + (size_t)r > size) {
          ++errors;
          close(c->fd);
          if (open_conn(c) != 0) ++errors;
          break;
        }
        c->got += (size_t)r;
        if (c->got < size) continue;
        if (memcmp(buf, expected, size) != 0) ++errors;
        c->got = 0;
        messages += (unsigned long)measuring;
        if (per_conn && --c->left == 0) {
          close(c->fd);
          if (open_conn(c) != 0) ++errors;
          break;
        }
        if (send_message(c) != 0) ++errors;
        break;
      }
    }
  }
  const double seconds = now() - measure_from;
  printf("messages %lu connections %lu seconds %.3f msgs_per_sec %.1f conns_per_sec %.1f "
         "errors %lu\n",
         messages, opened, seconds, (double)messages / seconds, (double)opened / seconds, errors);
  return errors ? 1 : 0;
}
