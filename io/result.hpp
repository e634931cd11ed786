// Results on the data path are values, not exceptions: a non-negative count or -errno.
#pragma once

#include <sys/types.h>

#include <string>

namespace echod::io {

/// Bytes transferred (>= 0), or -errno (-ETIMEDOUT on a deadline, -ECANCELED on cancel).
using io_result = ssize_t;

/// strerror() of a -errno result, e.g. "Connection reset by peer".
std::string error_text(io_result negative_errno);

}  // namespace echod::io
