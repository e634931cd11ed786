#include "server/process_title.hpp"

#include <sys/prctl.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace echod::server {
namespace {

char* area_begin = nullptr;
std::size_t area_size = 0;

}  // namespace

void init_process_title(int argc, char** argv) {
  if (argc < 1 || argv == nullptr || argv[0] == nullptr) return;
  // The kernel lays argv strings out back to back; only the contiguous run is ours to reuse.
  char* end = argv[0] + std::strlen(argv[0]) + 1;
  for (int i = 1; i < argc && argv[i] == end; ++i) end = argv[i] + std::strlen(argv[i]) + 1;
  area_begin = argv[0];
  area_size = static_cast<std::size_t>(end - argv[0]);
}

void set_process_title(std::string_view title) {
  const std::string comm(title.substr(0, 15));  // TASK_COMM_LEN - 1
  prctl(PR_SET_NAME, comm.c_str(), 0, 0, 0);
  if (area_begin == nullptr || area_size < 2) return;
  const std::size_t n = std::min(title.size(), area_size - 1);
  std::memcpy(area_begin, title.data(), n);
  // NUL-fill the rest: ps shows the whole area, and old arguments must not peek out.
  std::memset(area_begin + n, 0, area_size - n);
}

}  // namespace echod::server
