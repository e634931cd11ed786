#include "server/connection_registry.hpp"

namespace echod::server {

void connection_registry::link(node& n) {
  n.older = newest_;
  if (newest_ != nullptr) newest_->newer = &n;
  newest_ = &n;
  if (oldest_ == nullptr) oldest_ = &n;
  stats::add(counters_.accepted, 1);
  stats::add(counters_.active, 1);
}

void connection_registry::unlink(node& n) {
  if (n.newer != nullptr) n.newer->older = n.older;
  if (n.older != nullptr) n.older->newer = n.newer;
  if (newest_ == &n) newest_ = n.older;
  if (oldest_ == &n) oldest_ = n.newer;
  stats::sub(counters_.active, 1);
  stats::add(counters_.closed, 1);
  if (on_leave_) on_leave_(*n.self);
}

}  // namespace echod::server
