// The project's one error model.
//
// Every fallible operation returns Status (no value) or Result<T> (a value or an error). Errors carry a code that
// callers may branch on and a message written for an operator: it names the thing that failed and why.
// Exceptions never cross a module boundary: third-party code that throws (yaml-cpp, nlohmann::json) is wrapped at the
// call site and turned into a Status.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace pgw {

enum class Code {
  kOk = 0,
  kInvalidArgument,  // bad input: config, request, CLI argument
  kNotFound,         // a key, file or member that does not exist
  kAlreadyExists,    // create-only write lost the race
  kConflict,         // compare-and-swap failed (someone else changed it)
  kUnavailable,      // peer (etcd, PostgreSQL, REST) cannot be reached; retrying may help
  kTimeout,          // deadline passed
  kIo,               // local file system or process failure
  kInternal,         // a bug: an invariant did not hold
};

const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "<code>: <message>" for logs.
  std::string ToString() const;
  // Prefixes the message with context, keeping the code: "reading x: <old message>".
  Status Context(const std::string& what) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return Status(Code::kInvalidArgument, std::move(m)); }
inline Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
inline Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
inline Status Timeout(std::string m) { return Status(Code::kTimeout, std::move(m)); }
inline Status IoError(std::string m) { return Status(Code::kIo, std::move(m)); }
inline Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }
inline Status Conflict(std::string m) { return Status(Code::kConflict, std::move(m)); }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design, like absl::StatusOr
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).ok()); }  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace pgw

// Returns early from the enclosing function with the error of a Status expression.
#define PGW_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::pgw::Status pgw_status_ = (expr);        \
    if (!pgw_status_.ok()) return pgw_status_; \
  } while (0)
