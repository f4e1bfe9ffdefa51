// Status and Result<T>: the one error type of errata's domain and stores.
// A Status is ok or carries a code and a message; it never throws.
// Exactly one function (api/errors.cc) maps it to an HTTP status and body.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace errata {

class Status {
 public:
  enum class Code { kOk, kInvalidArgument, kNotFound, kConflict, kUnavailable, kInternal };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg, std::string field = "") {
    return Status(Code::kInvalidArgument, std::move(msg), std::move(field));
  }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status Conflict(std::string msg, std::string field = "") {
    return Status(Code::kConflict, std::move(msg), std::move(field));
  }
  static Status Unavailable(std::string msg) { return Status(Code::kUnavailable, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(Code::kInternal, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // The request field the error is about, when there is one ("email", "errors[2].category").
  const std::string& field() const { return field_; }
  std::string ToString() const;

 private:
  Status(Code code, std::string msg, std::string field = "")
      : code_(code), message_(std::move(msg)), field_(std::move(field)) {}
  Code code_ = Code::kOk;
  std::string message_;
  std::string field_;
};

// Result<T> holds a value or a non-ok Status.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}              // NOLINT(runtime/explicit)
  Result(Status status) : status_(std::move(status)) {}      // NOLINT(runtime/explicit)
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace errata
