// seccomp_exec: installs a seccomp filter, then execs a program under it (the filter is inherited
// across exec and fork). What Docker's or the kubelet's seccomp profiles do to echod, without a
// container engine:
//   seccomp_exec --deny-io-uring PROGRAM [ARGS...]   io_uring_setup fails with EPERM, as under
//                                                    RuntimeDefault; every other call is allowed
//   seccomp_exec --profile FILE PROGRAM [ARGS...]    a profile in Docker's JSON format (the one
//                                                    the kubelet reads for type Localhost)
// Of the profile format it reads defaultAction, defaultErrnoRet, architectures and syscalls'
// names, action and errnoRet; anything else (args, includes, excludes) is refused, so a profile
// is never half applied. Names this kernel's architecture lacks are skipped, as runc does.
// Exit status 125 when the filter cannot be made or installed; otherwise the program's.
#include <seccomp.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace {

constexpr int setup_failed = 125;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "seccomp_exec: %s\n", what.c_str());
  std::exit(setup_failed);
}

/// A profile action ("SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO" with its errno) as libseccomp's.
std::uint32_t action_of(const nlohmann::json& action, const nlohmann::json& errno_ret,
                        std::string_view where) {
  const std::string name = action.get<std::string>();
  if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (name == "SCMP_ACT_ERRNO")
    return SCMP_ACT_ERRNO(errno_ret.is_number() ? errno_ret.get<int>() : EPERM);
  die(std::string(where) + ": action " + name +
      " is not supported (SCMP_ACT_ALLOW, SCMP_ACT_ERRNO)");
}

std::string lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void require_only(const nlohmann::json& object, const std::set<std::string>& known,
                  std::string_view where) {
  for (const auto& [key, value] : object.items()) {
    if (!known.contains(key)) die(std::string(where) + ": key \"" + key + "\" is not supported");
  }
}

scmp_filter_ctx deny_io_uring() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr) die("seccomp_init failed");
  if (const int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(io_uring_setup), 0);
      rc < 0) {
    die(std::string("io_uring_setup rule: ") + std::strerror(-rc));
  }
  return ctx;
}

scmp_filter_ctx from_profile(const std::string& path) {
  std::ifstream in(path);
  if (!in) die(path + ": " + std::strerror(errno));
  nlohmann::json profile;
  try {
    profile = nlohmann::json::parse(in);
    require_only(profile, {"defaultAction", "defaultErrnoRet", "architectures", "syscalls"}, path);
    scmp_filter_ctx ctx = seccomp_init(action_of(
        profile.at("defaultAction"), profile.value("defaultErrnoRet", nlohmann::json()), path));
    if (ctx == nullptr) die("seccomp_init failed");
    // The native architecture is in the filter already; add the others the profile names.
    for (const auto& arch : profile.value("architectures", nlohmann::json::array())) {
      const std::string name = arch.get<std::string>();
      const std::uint32_t token = seccomp_arch_resolve_name(
          name.starts_with("SCMP_ARCH_") ? lowercase(name.substr(10)).c_str() : name.c_str());
      if (token == 0) die(path + ": unknown architecture " + name);
      const int rc = seccomp_arch_add(ctx, token);
      if (rc < 0 && rc != -EEXIST) die(path + ": architecture " + name + ": " + std::strerror(-rc));
    }
    for (const auto& rule : profile.at("syscalls")) {
      require_only(rule, {"names", "action", "errnoRet"}, path + ": syscalls");
      const std::uint32_t action =
          action_of(rule.at("action"), rule.value("errnoRet", nlohmann::json()), path);
      for (const auto& name : rule.at("names")) {
        const int nr = seccomp_syscall_resolve_name(name.get<std::string>().c_str());
        if (nr == __NR_SCMP_ERROR) continue;  // not a call of this architecture
        if (const int rc = seccomp_rule_add(ctx, action, nr, 0); rc < 0 && rc != -EEXIST) {
          die(path + ": " + name.get<std::string>() + ": " + std::strerror(-rc));
        }
      }
    }
    return ctx;
  } catch (const nlohmann::json::exception& e) {
    die(path + ": " + e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) die("usage: seccomp_exec --deny-io-uring | --profile FILE  PROGRAM [ARGS...]");
  const std::string_view mode = argv[1];
  int first = 2;
  scmp_filter_ctx ctx = nullptr;
  if (mode == "--deny-io-uring") {
    ctx = deny_io_uring();
  } else if (mode == "--profile" && argc >= 4) {
    ctx = from_profile(argv[2]);
    first = 3;
  } else {
    die("usage: seccomp_exec --deny-io-uring | --profile FILE  PROGRAM [ARGS...]");
  }
  if (const int rc = seccomp_load(ctx); rc < 0)
    die(std::string("seccomp_load: ") + std::strerror(-rc));
  seccomp_release(ctx);
  ::execv(argv[first], argv + first);
  die(std::string("exec ") + argv[first] + ": " + std::strerror(errno));
}
