/* uring_echo.c: the second reference loop loadtest/ runs beside echod, the io_uring one.
 *
 * One thread, one ring, written the way io_uring is cheapest for small messages today:
 *   - multishot accept: one SQE serves every new connection       (kernel 5.19)
 *   - multishot recv: one SQE per connection serves all its reads  (kernel 6.0)
 *   - one provided buffer ring shared by every connection, registered with
 *     io_uring_register_buf_ring (liburing 2.3 has no io_uring_setup_buf_ring, so we allocate
 *     the ring ourselves): the kernel picks a buffer per read, so an idle connection holds no
 *     buffer                                                        (kernel 5.19)
 *   - IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN: completions run only when we
 *     wait, in our thread, in one batch                             (kernel 6.0 and 6.1)
 *   - IORING_SETUP_CQSIZE: a CQ four times the SQ, since multishot posts many CQEs per SQE (5.5)
 *   - one send in flight per connection, straight from the received buffer (uppercased in place,
 *     no copy); data that arrives meanwhile queues on the connection in arrival order, a short
 *     send resends its tail, and the buffer returns to the ring when its bytes are all sent
 *   - ENOBUFS (every buffer is queued or being sent) ends the connection's multishot recv; the
 *     unread bytes stay in the socket, and the recv is armed again once sends have returned
 *     buffers, so nothing is lost and nothing spins
 * Needs kernel 6.1+ and liburing 2.3+ (Debian 12); on an older kernel it exits 1 saying which
 * setup flag was refused. A connection's fd is closed only once neither its recv nor a send is
 * in flight, so no late completion can reach a new connection that reuses the fd number.
 *
 * Same contract as epoll_echo.c: ASCII a-z uppercased (-e: plain echo), 127.0.0.1 by default,
 * prints "listening on 127.0.0.1:PORT", SIGTERM/SIGINT exit 0. A yardstick, not a server: no
 * timeouts, no connection limit but the fd limit, and no cap on what one connection queues: a
 * client that sends without reading holds buffers that the others then wait for (epoll_echo.c
 * stops reading such a client instead).
 * Build: cc -O2 -o uring_echo uring_echo.c -luring
 * Usage: uring_echo [-e] [-p PORT] [-a IPV4] [-b BUFFERS]
 *   -e: plain echo; PORT 0 = ephemeral; BUFFERS: ring entries, a power of two up to 32768
 *   (default 4096; the tests use a few to run the ring empty). On exit it prints how often a
 *   recv met an empty ring.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
  sq_entries = 4096,
  buf_size = 16 * 1024, /* 64 MiB for 4096; a 64 B message uses one buffer's first lines */
  group = 0,            /* the buffer group id of our one ring */
  none = -1,            /* empty queue / no next buffer */
};
enum op { op_accept = 1, op_recv, op_send };

struct conn {
  int head, tail;    /* queued buffers, oldest first (linked through next_buf); none if empty */
  unsigned head_off; /* bytes of the head buffer already sent */
  unsigned char recv_armed, sending, eof, dead, starved;
};

static struct io_uring ring;
static struct io_uring_buf_ring* br;
static char* bufs;
static int n_bufs = 4096;
static unsigned* buf_len;        /* bytes received into each buffer */
static int* next_buf;            /* a connection's queue: the buffer after this one */
static unsigned long enobufs;    /* recvs that met an empty ring */
static unsigned pending_returns; /* buffers added to the ring since the last advance */
static struct conn* conns;       /* indexed by fd */
static int max_fd, n_starved, upper = 1, listen_fd;
static volatile sig_atomic_t stopping;

static void on_signal(int sig) {
  (void)sig;
  stopping = 1;
}

static void die(const char* what, int err) {
  fprintf(stderr, "%s: %s\n", what, strerror(err));
  exit(1);
}

static struct io_uring_sqe* get_sqe(void) {
  struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  if (!sqe) { /* SQ full: hand the kernel what we have, then there is room */
    io_uring_submit(&ring);
    sqe = io_uring_get_sqe(&ring);
    if (!sqe) die("io_uring_get_sqe", EBUSY);
  }
  return sqe;
}

static void tag(struct io_uring_sqe* sqe, enum op op, int fd) {
  io_uring_sqe_set_data64(sqe, (__u64)op << 32 | (__u32)fd);
}

static void arm_accept(void) {
  struct io_uring_sqe* sqe = get_sqe();
  io_uring_prep_multishot_accept(sqe, listen_fd, NULL, NULL, SOCK_CLOEXEC);
  tag(sqe, op_accept, listen_fd);
}

static void arm_recv(int fd) {
  struct io_uring_sqe* sqe = get_sqe();
  io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = group;
  tag(sqe, op_recv, fd);
  conns[fd].recv_armed = 1;
}

/* Arms the recv of every connection that met an empty ring: called once buffers came back.
 * ENOBUFS is rare (every buffer queued or being sent), so a scan costs nothing in the
 * steady state. */
static void rearm_starved(void) {
  for (int fd = 0; fd <= max_fd && n_starved; fd++)
    if (conns[fd].starved) {
      conns[fd].starved = 0;
      n_starved--;
      arm_recv(fd);
    }
}

/* Hands buffer bid back to the kernel; the ring tail moves once per batch (in main). */
static void return_buf(int bid) {
  io_uring_buf_ring_add(br, bufs + (size_t)bid * buf_size, buf_size, (unsigned short)bid,
                        io_uring_buf_ring_mask(n_bufs), (int)pending_returns++);
}

static void send_head(int fd) {
  struct conn* c = &conns[fd];
  struct io_uring_sqe* sqe = get_sqe();
  io_uring_prep_send(sqe, fd, bufs + (size_t)c->head * buf_size + c->head_off,
                     buf_len[c->head] - c->head_off, MSG_NOSIGNAL);
  tag(sqe, op_send, fd);
  c->sending = 1;
}

/* Closes the fd once nothing of it is in flight; until then a send or recv CQE is still due. */
static void maybe_close(int fd) {
  struct conn* c = &conns[fd];
  if (c->recv_armed || c->sending || !(c->dead || (c->eof && c->head == none))) return;
  for (int b = c->head; b != none; b = next_buf[b]) return_buf(b);
  close(fd);
  n_starved -= c->starved;
  memset(c, 0, sizeof *c);
}

/* The peer is gone: drop what is queued; shutdown() ends the armed recv so its CQE comes. */
static void kill_conn(int fd) {
  struct conn* c = &conns[fd];
  if (!c->dead && c->recv_armed) shutdown(fd, SHUT_RDWR);
  c->dead = 1;
  maybe_close(fd);
}

static void on_accept(struct io_uring_cqe* cqe) {
  if (!(cqe->flags & IORING_CQE_F_MORE) && !stopping) arm_accept();
  if (cqe->res < 0) {
    if (cqe->res != -ECONNABORTED) fprintf(stderr, "accept: %s\n", strerror(-cqe->res));
    return;
  }
  int fd = cqe->res, one = 1; /* small replies must leave now, not wait for Nagle */
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  conns[fd] = (struct conn){.head = none, .tail = none};
  if (fd > max_fd) max_fd = fd;
  arm_recv(fd);
}

static void on_recv(struct io_uring_cqe* cqe, int fd) {
  struct conn* c = &conns[fd];
  if (!(cqe->flags & IORING_CQE_F_MORE)) c->recv_armed = 0;
  if (cqe->res == -ENOBUFS) { /* the bytes wait in the socket until buffers come back */
    enobufs++;
    if (!c->dead && !c->starved) {
      c->starved = 1;
      n_starved++;
    }
  } else if (cqe->res <= 0) { /* EOF: send what is queued, then close; an error: close */
    c->eof = 1;
    if (cqe->res < 0) c->dead = 1;
  } else {
    int bid = (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
    unsigned n = (unsigned)cqe->res;
    if (c->dead) {
      return_buf(bid);
    } else {
      char* p = bufs + (size_t)bid * buf_size;
      if (upper)
        for (unsigned i = 0; i < n; i++)
          if (p[i] >= 'a' && p[i] <= 'z') p[i] -= 'a' - 'A';
      buf_len[bid] = n;
      next_buf[bid] = none;
      if (c->tail == none)
        c->head = bid;
      else
        next_buf[c->tail] = bid;
      c->tail = bid;
      if (!c->sending) send_head(fd);
    }
    /* Ended without an error (e.g. CQ overflow): arm it again. */
    if (!c->recv_armed && !c->dead && !stopping) arm_recv(fd);
  }
  maybe_close(fd);
}

static void on_send(struct io_uring_cqe* cqe, int fd) {
  struct conn* c = &conns[fd];
  c->sending = 0;
  if (cqe->res < 0) {
    kill_conn(fd);
    return;
  }
  c->head_off += (unsigned)cqe->res;
  if (c->head_off == buf_len[c->head]) { /* all of it sent: the buffer goes back */
    int done = c->head;
    c->head = next_buf[done];
    if (c->head == none) c->tail = none;
    c->head_off = 0;
    return_buf(done);
  }
  if (c->head != none && !c->dead)
    send_head(fd); /* the next buffer, or the tail of a short send */
  else
    maybe_close(fd);
}

static int open_listener(const char* host, int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
    fprintf(stderr, "bad IPv4 address %s\n", host);
    exit(2);
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket", errno);
  int one = 1; /* a restart must not wait for TIME_WAIT to clear */
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr*)&a, sizeof a) < 0) die("bind", errno);
  if (listen(fd, 4096) < 0) die("listen", errno);
  socklen_t len = sizeof a;
  if (getsockname(fd, (struct sockaddr*)&a, &len) < 0) die("getsockname", errno);
  fprintf(stderr, "listening on %s:%d\n", host, ntohs(a.sin_port));
  return fd;
}

static void setup_ring(void) {
  struct io_uring_params p = {
      .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE,
      .cq_entries = 4 * sq_entries};
  int r = io_uring_queue_init_params(sq_entries, &ring, &p);
  if (r < 0) die("io_uring_setup with SINGLE_ISSUER|DEFER_TASKRUN (kernel 6.1+)", -r);
  /* The ring's entries must be page aligned; the buffers need not be. */
  if ((r = posix_memalign((void**)&br, 4096, n_bufs * sizeof(struct io_uring_buf))) != 0)
    die("posix_memalign", r);
  bufs = malloc((size_t)n_bufs * buf_size);
  buf_len = calloc((size_t)n_bufs, sizeof *buf_len);
  next_buf = calloc((size_t)n_bufs, sizeof *next_buf);
  if (!bufs || !buf_len || !next_buf) die("malloc", ENOMEM);
  struct io_uring_buf_reg reg = {
      .ring_addr = (unsigned long)br, .ring_entries = n_bufs, .bgid = group};
  if ((r = io_uring_register_buf_ring(&ring, &reg, 0)) < 0)
    die("io_uring_register_buf_ring (kernel 5.19+)", -r);
  io_uring_buf_ring_init(br);
  for (int b = 0; b < n_bufs; b++) return_buf(b);
  io_uring_buf_ring_advance(br, (int)pending_returns);
  pending_returns = 0;
}

int main(int argc, char** argv) {
  int port = 0, opt;
  const char* host = "127.0.0.1";
  while ((opt = getopt(argc, argv, "ep:a:b:")) != -1) {
    if (opt == 'e')
      upper = 0;
    else if (opt == 'p')
      port = atoi(optarg);
    else if (opt == 'a')
      host = optarg;
    else if (opt == 'b' && (n_bufs = atoi(optarg)) > 0 && n_bufs <= 32768 &&
             !(n_bufs & (n_bufs - 1)))
      continue;
    else {
      fprintf(stderr, "usage: %s [-e] [-p PORT] [-a IPV4] [-b BUFFERS, a power of two <= 32768]\n",
              argv[0]);
      return 2;
    }
  }
  /* No SA_RESTART: the signal must interrupt the wait so the loop sees `stopping`. */
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  struct rlimit nofile;
  if (getrlimit(RLIMIT_NOFILE, &nofile) < 0) die("getrlimit", errno);
  if (!(conns = calloc(nofile.rlim_cur, sizeof *conns))) die("calloc", ENOMEM);
  listen_fd = open_listener(host, port);
  setup_ring();
  arm_accept();

  while (!stopping) {
    int r = io_uring_submit_and_wait(&ring, 1);
    if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) die("io_uring_submit_and_wait", -r);
    struct io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      int fd = (int)(__u32)cqe->user_data;
      switch ((enum op)(cqe->user_data >> 32)) {
        case op_accept:
          on_accept(cqe);
          break;
        case op_recv:
          on_recv(cqe, fd);
          break;
        case op_send:
          on_send(cqe, fd);
          break;
      }
      seen++;
    }
    io_uring_cq_advance(&ring, seen);
    if (pending_returns) { /* buffers came back: starved connections may read again */
      io_uring_buf_ring_advance(br, (int)pending_returns);
      pending_returns = 0;
      rearm_starved();
    }
  }
  fprintf(stderr, "uring_echo: %lu recvs met an empty buffer ring\n", enobufs);
  return 0;
}
