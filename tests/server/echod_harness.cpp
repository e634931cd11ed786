#include "echod_harness.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <utility>

#include "regex.hpp"

namespace echod::testing {

using namespace std::chrono_literals;

std::string python_upper(const std::string& in) {
  std::string out = in;
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<char>(gen() & 0xff);
  return out;
}

std::vector<std::string> base_args(io::backend_kind backend) {
  return {"--set", "listen=127.0.0.1:0",
          "--set", std::string("backend=") + io::backend_name(backend),
          "--set", "shutdown_timeout=2"};
}

echod_process::echod_process(std::vector<std::string> args, bool wait_for_port,
                             std::vector<std::string> launcher, std::string binary) {
  args.insert(args.begin(), binary.empty() ? build_path("server/echod") : std::move(binary));
  args.insert(args.begin(), launcher.begin(), launcher.end());
  proc_ = std::make_unique<child_process>(std::move(args));
  if (!wait_for_port) return;
  if (auto m = proc_->wait_for_stderr(R"(listening on 127\.0\.0\.1:(\d+))", 10s)) {
    port_ = std::stoi((*m)[1]);
  }
}

std::optional<std::vector<std::string>> echod_process::wait_log(const std::string& pattern,
                                                                std::chrono::milliseconds timeout) {
  return proc_->wait_for_stderr(pattern, timeout);
}

std::string echod_process::final_log() {
  proc_->wait_for_stderr("(?!)", 5s);  // matches nothing: returns once stderr has closed
  return log();
}

std::size_t echod_process::count_log(const std::string& pattern) const {
  const std::string text = log();
  const std::regex re(pattern);
  return static_cast<std::size_t>(
      std::distance(std::sregex_iterator(text.begin(), text.end(), re), std::sregex_iterator()));
}

std::vector<pid_t> echod_process::workers() const { return children_of(pid()); }

bool echod_process::wait_workers(std::size_t n, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    const auto pids = workers();
    if (pids.size() == n) {
      const std::string text = log();
      const bool all_ready = std::all_of(pids.begin(), pids.end(), [&](pid_t p) {
        return text.find("ready (pid " + std::to_string(p) + ",") != std::string::npos;
      });
      if (all_ready) return true;
    }
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

std::optional<int> echod_process::stop(int sig, std::chrono::milliseconds timeout) {
  proc_->signal(sig);
  return proc_->wait_exit(timeout);
}

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return out;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream stat(std::string("/proc/") + e->d_name + "/stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses; skip past the last ')'.
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 1));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent && state != "Z") out.push_back(std::stoi(e->d_name));
  }
  closedir(dir);
  std::sort(out.begin(), out.end());
  return out;
}

notify_socket::notify_socket() {
  char dir[] = "/tmp/echod-notify-XXXXXX";
  if (::mkdtemp(dir) != nullptr) dir_ = dir;
  path_ = dir_ + "/notify";
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un at{};
  at.sun_family = AF_UNIX;
  std::strncpy(at.sun_path, path_.c_str(), sizeof at.sun_path - 1);
  bound_ = ::bind(fd_, reinterpret_cast<const sockaddr*>(&at), sizeof at) == 0;
}

notify_socket::~notify_socket() {
  ::close(fd_);
  ::unlink(path_.c_str());
  ::rmdir(dir_.c_str());
}

std::optional<std::string> notify_socket::next(std::chrono::milliseconds timeout) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
  char buf[4096];
  const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n < 0) return std::nullopt;
  return std::string(buf, static_cast<std::size_t>(n));
}

temp_config::temp_config(const std::string& text) {
  char dir[] = "/tmp/echod-test-XXXXXX";
  if (mkdtemp(dir) != nullptr) dir_ = dir;
  path_ = dir_ + "/echod.json";
  write(text);
}

temp_config::~temp_config() {
  std::remove(path_.c_str());
  ::rmdir(dir_.c_str());
}

void temp_config::write(const std::string& text) const {
  const std::string tmp = path_ + ".new";
  std::ofstream(tmp) << text;
  std::rename(tmp.c_str(), path_.c_str());
}

std::vector<thread_info> threads_of(pid_t pid) {
  std::vector<thread_info> out;
  const std::string base = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = opendir(base.c_str());
  if (dir == nullptr) return out;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    const std::string task = base + "/" + e->d_name;
    thread_info t;
    std::ifstream comm(task + "/comm");
    if (!std::getline(comm, t.name)) continue;  // the thread ended meanwhile
    std::ifstream status(task + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("Cpus_allowed_list:", 0) == 0)
        t.cpus_allowed = line.substr(line.find('\t') + 1);
    }
    out.push_back(std::move(t));
  }
  closedir(dir);
  return out;
}

std::string command_line_of(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/cmdline");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::replace(text.begin(), text.end(), '\0', ' ');
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

namespace {

// The inode of the server-side socket of a loopback connection, from /proc/net/tcp: local
// address 127.0.0.1:server_port, remote 127.0.0.1:client_port.
unsigned long server_socket_inode(int server_port, int client_port) {
  std::ifstream tcp("/proc/net/tcp");
  std::string line;
  std::getline(tcp, line);  // header
  char local[64];
  char remote[64];
  std::snprintf(local, sizeof local, "0100007F:%04X", server_port);
  std::snprintf(remote, sizeof remote, "0100007F:%04X", client_port);
  while (std::getline(tcp, line)) {
    std::istringstream in(line);
    std::string slot, loc, rem, st, queues, timer, retr, uid, timeout_field;
    unsigned long inode = 0;
    in >> slot >> loc >> rem >> st >> queues >> timer >> retr >> uid >> timeout_field >> inode;
    if (loc == local && rem == remote) return inode;
  }
  return 0;
}

}  // namespace

pid_t server_side_owner(int client_fd, int server_port, const std::vector<pid_t>& candidates) {
  sockaddr_in me{};
  socklen_t len = sizeof me;
  if (getsockname(client_fd, reinterpret_cast<sockaddr*>(&me), &len) != 0) return -1;
  const unsigned long inode = server_socket_inode(server_port, ntohs(me.sin_port));
  if (inode == 0) return -1;
  const std::string wanted = "socket:[" + std::to_string(inode) + "]";
  for (const pid_t pid : candidates) {
    const std::string base = "/proc/" + std::to_string(pid) + "/fd";
    DIR* dir = opendir(base.c_str());
    if (dir == nullptr) continue;
    bool found = false;
    while (dirent* e = readdir(dir)) {
      char target[128] = {};
      const std::string link = base + "/" + e->d_name;
      if (readlink(link.c_str(), target, sizeof target - 1) > 0 && wanted == target) found = true;
    }
    closedir(dir);
    if (found) return pid;
  }
  return -1;
}

client::client(int port, std::chrono::milliseconds timeout) {
  // A failure is printed here, so that a test's "connected() is false" explains itself.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::fprintf(stderr, "test client: socket: %s\n", std::strerror(errno));
    return;
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  fd_ = fd;
  set_timeout(timeout);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    std::fprintf(stderr, "test client: connect to 127.0.0.1:%d: %s\n", port, std::strerror(errno));
    close();
  }
}

client::~client() { close(); }

client::client(client&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}

client& client::operator=(client&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

void client::set_timeout(std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool client::send_all(const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

std::string client::recv_exact(std::size_t n) {
  std::string out(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::recv(fd_, out.data() + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  out.resize(got);
  return out;
}

std::string client::recv_until_eof(bool* clean) {
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t r = ::recv(fd_, buf, sizeof buf, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (clean != nullptr) *clean = r == 0;
      return out;
    }
    out.append(buf, static_cast<std::size_t>(r));
  }
}

bool client::readable_within(std::chrono::milliseconds timeout) {
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

void client::shutdown_write() { ::shutdown(fd_, SHUT_WR); }

void client::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void client::reset() {
  const linger l{1, 0};
  setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close();
}

bool client::round_trip(const std::string& msg, bool upper) {
  if (!send_all(msg)) return false;
  return recv_exact(msg.size()) == (upper ? python_upper(msg) : msg);
}

}  // namespace echod::testing
