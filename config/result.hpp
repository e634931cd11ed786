// "Failed, and why", said one way: result<T> holds either a T or the reason it could not be had,
// a message meant to be printed as is (it names what failed and why, e.g. `expected "host:port"
// ..., got "foo"`). For setup code: parsing, checks at start and on reload. The data path keeps
// io::io_result (-errno), and config files keep config_error, which also carries a JSON path.
// In config/ because every layer may include it (config/ depends on nothing of ours).
// TODO(issue 8): still on the older styles, to move here with their callers in master*.cpp and
// io/: check_machine and config::parse_host_port / io::address::parse / io::resolve_backend
// (a `std::string*` out-parameter), admin_server::open (`std::string&`), and
// listener_set::acquire's made-up std::system_error for a bad address.
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
