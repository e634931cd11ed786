// <regex> for tests. GCC 12 reports a false -Wmaybe-uninitialized inside libstdc++'s <regex>
// under -fsanitize, which -Werror turns into a failed build: include it through here.
#pragma once

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#pragma GCC diagnostic pop
