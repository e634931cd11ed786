// Names processes for ps and top: "echod: master", "echod: worker 2". Sets the kernel's comm
// (prctl PR_SET_NAME, 15 characters, what top and /proc/PID/comm show) and rewrites the argv area
// (what ps -f and /proc/PID/cmdline show). Does not move the environment out of the way as nginx
// does, so the title only has the room the original command line had: enough with any argument
// ("echod -c FILE"); a bare "echod" shows as "echod" in ps -f, while comm still has the full title.
#pragma once

#include <string_view>

namespace echod::server {

/// Remembers where argv lives. Call first thing in main(), before anything copies or reorders it.
void init_process_title(int argc, char** argv);

/// Sets the title of the calling process (the calling thread's comm, for the kernel).
void set_process_title(std::string_view title);

}  // namespace echod::server
