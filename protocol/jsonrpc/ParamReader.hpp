// ParamReader.hpp - reads request params while tracking the JSON path, so a wrong parameter is
// answered with InvalidParams naming exactly what was wrong ("params.namespace: expected string").
//
// Readers throw `InvalidParamsError`; the dispatcher turns it into -32602 with the message as is.
// Unknown fields are ignored on purpose: newer clients may send more than this server reads.
#pragma once

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tether::jsonrpc {

class InvalidParamsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ParamReader {
 public:
  // `value` must outlive the reader. Absent params (JSON null) read as an empty object.
  explicit ParamReader(const boost::json::value& value, std::string path = "params");

  const std::string& path() const { return path_; }
  bool has(std::string_view key) const;

  std::string requiredString(std::string_view key) const;
  std::optional<std::string> optionalString(std::string_view key) const;
  std::optional<std::int64_t> optionalInteger(std::string_view key) const;
  std::optional<bool> optionalBool(std::string_view key) const;
  // A nested object; absent or null gives an empty reader.
  ParamReader object(std::string_view key) const;
  // The raw value of a key (null when absent), for fields of free shape such as initializationOptions.
  const boost::json::value& raw(std::string_view key) const;

  [[noreturn]] void fail(std::string_view key, std::string_view expectation) const;

 private:
  const boost::json::value* lookup(std::string_view key) const;

  const boost::json::object* object_ = nullptr;
  std::string path_;
};

}  // namespace tether::jsonrpc
