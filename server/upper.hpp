// Transitional: the uppercase transform lives in transform/upper.hpp, below server/ and client/.
// TODO: once server/services.cpp includes that header and calls transform::upper_in_place, this
// file goes.
#pragma once

#include "transform/upper.hpp"

namespace echod::server {

using transform::upper_in_place;

}  // namespace echod::server
