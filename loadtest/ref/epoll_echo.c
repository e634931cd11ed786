/* epoll_echo.c: the reference "hand-written C loop" that loadtest/ runs beside echod.
 *
 * One thread, one level-triggered epoll set, non-blocking sockets with TCP_NODELAY. Each
 * connection owns one buffer: read, transform (ASCII a-z uppercased, or nothing with -e), write.
 * A short write keeps the unsent tail and waits for EPOLLOUT with EPOLLIN off, so a client that
 * does not read cannot make us buffer without bound. Prints "listening on 127.0.0.1:PORT" like
 * echod; SIGTERM/SIGINT exit 0.
 *
 * What it does not do: threads, timeouts, limits on connections, anything but 127.0.0.1 by default.
 * It is a yardstick, not a server. Build: cc -O2 -o epoll_echo epoll_echo.c
 * Usage: epoll_echo [-e] [-p PORT] [-a IPV4]     (-e: plain echo; PORT 0 = ephemeral)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { buf_size = 64 * 1024, max_events = 256 }; /* 64 KiB: echod's default buffer_size */

struct conn {
  int fd;
  size_t off, len; /* unsent bytes are buf[off, len) */
  char buf[buf_size];
};

static volatile sig_atomic_t stopping;
static void on_signal(int sig) {
  (void)sig;
  stopping = 1;
}

static void die(const char* what) {
  perror(what);
  exit(1);
}

static void watch(int ep, int op, struct conn* c, unsigned events) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  if (epoll_ctl(ep, op, c->fd, &ev) < 0) die("epoll_ctl");
}

static void drop(struct conn* c) {
  close(c->fd); /* close() also removes it from the epoll set */
  free(c);
}

/* Sends buf[off, len). Returns 0 when all is sent or parked on EAGAIN, -1 when the peer is gone. */
static int flush(int ep, struct conn* c) {
  while (c->off < c->len) {
    ssize_t n = write(c->fd, c->buf + c->off, c->len - c->off);
    if (n > 0) {
      c->off += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      watch(ep, EPOLL_CTL_MOD, c, EPOLLOUT);
      return 0;
    }
    return -1;
  }
  c->off = c->len = 0;
  return 0;
}

static void on_readable(int ep, struct conn* c, int upper) {
  ssize_t n = read(c->fd, c->buf, sizeof c->buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    drop(c);
    return;
  } /* EOF or reset */
  if (upper)
    for (ssize_t i = 0; i < n; i++)
      if (c->buf[i] >= 'a' && c->buf[i] <= 'z') c->buf[i] -= 'a' - 'A';
  c->off = 0;
  c->len = (size_t)n;
  if (flush(ep, c) < 0) drop(c);
}

static void on_writable(int ep, struct conn* c) {
  if (flush(ep, c) < 0) {
    drop(c);
    return;
  }
  if (c->len == 0) watch(ep, EPOLL_CTL_MOD, c, EPOLLIN); /* drained: read again */
}

static void accept_all(int ep, int lfd) {
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN) perror("accept4"); /* EMFILE etc.: retried on the next wake-up */
      return;
    }
    int one = 1; /* small replies must leave now, not wait for Nagle */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn* c = malloc(sizeof *c);
    if (!c) {
      close(fd);
      continue;
    }
    c->fd = fd;
    c->off = c->len = 0;
    watch(ep, EPOLL_CTL_ADD, c, EPOLLIN);
  }
}

static int open_listener(const char* host, int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
    fprintf(stderr, "bad IPv4 address %s\n", host);
    exit(2);
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int one = 1; /* a restart must not wait for TIME_WAIT to clear */
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr*)&a, sizeof a) < 0) die("bind");
  if (listen(fd, 4096) < 0) die("listen");
  socklen_t len = sizeof a;
  if (getsockname(fd, (struct sockaddr*)&a, &len) < 0) die("getsockname");
  fprintf(stderr, "listening on %s:%d\n", host, ntohs(a.sin_port));
  return fd;
}

int main(int argc, char** argv) {
  int upper = 1, port = 0, opt;
  const char* host = "127.0.0.1";
  while ((opt = getopt(argc, argv, "ep:a:")) != -1) {
    if (opt == 'e')
      upper = 0;
    else if (opt == 'p')
      port = atoi(optarg);
    else if (opt == 'a')
      host = optarg;
    else {
      fprintf(stderr, "usage: %s [-e] [-p PORT] [-a IPV4]\n", argv[0]);
      return 2;
    }
  }
  /* No SA_RESTART: the signal must interrupt epoll_wait so the loop sees `stopping`. */
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN); /* a write to a closed peer must be an EPIPE, not a death */

  int lfd = open_listener(host, port);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL}; /* NULL marks the listener */
  if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0) die("epoll_ctl");

  struct epoll_event events[max_events];
  while (!stopping) {
    int n = epoll_wait(ep, events, max_events, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      struct conn* c = events[i].data.ptr;
      if (!c) accept_all(ep, lfd);
      /* Dispatch on state, not on the event bits: with unsent data we only wait for EPOLLOUT,
       * and an EPOLLHUP/EPOLLERR then must not read over the tail; write() reports the error. */
      else if (c->len > 0)
        on_writable(ep, c);
      else
        on_readable(ep, c, upper);
    }
  }
  return 0;
}
