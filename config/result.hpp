// "Failed, and why", said one way: result<T> holds either a T or the reason it could not be had,
// a message meant to be printed as is (it names what failed and why, e.g. `expected "host:port"
// ..., got "foo"`). In config/ because every layer may include it (config/ depends on nothing of
// ours). Which way a failure travels in echod:
// - result<T> for failures that setup code expects and reports: parsing, checks at start and on
//   reload, binding a listen or admin address, writing the PID file. A caller that wraps a
//   throwing system call (a bind in listener::open) catches its std::system_error there and
//   returns the reason, so callers above see one way.
// - io::io_result (-errno) on the data path: no string, no exception per byte.
// - config_error (thrown) for config files and command lines, because it also carries the JSON
//   path of the field.
// - std::system_error with the call's real errno, thrown, only where a system call fails in a
//   constructor (a reactor, a signalfd, a listening socket): nothing to return a reason through,
//   and nothing the program expects to go wrong.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace echod::config {

/// The reason a result holds instead of a value: `return failure{"why"};`.
struct failure {
  std::string why;
};

template <class T>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
  result(failure f) : v_(std::in_place_index<1>, std::move(f)) {}    // NOLINT: implicit

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  /// The value; only when ok().
  T& operator*() { return std::get<0>(v_); }
  const T& operator*() const { return std::get<0>(v_); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  /// The reason; only when !ok().
  const std::string& error() const { return std::get<1>(v_).why; }

 private:
  std::variant<T, failure> v_;
};

/// A check with nothing to return but whether it passed.
template <>
class [[nodiscard]] result<void> {
 public:
  result() = default;
  result(failure f) : why_(std::move(f.why)), failed_(true) {}  // NOLINT: implicit

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const std::string& error() const { return why_; }

 private:
  std::string why_;
  bool failed_ = false;
};

}  // namespace echod::config
