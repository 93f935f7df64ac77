// ParamReader.cpp - path-tracking reads of request params.
#include "protocol/jsonrpc/ParamReader.hpp"

#include <boost/json/object.hpp>

namespace tether::jsonrpc {

namespace json = boost::json;

namespace {
const json::value kNull;
const json::object kEmpty;
}  // namespace

ParamReader::ParamReader(const json::value& value, std::string path) : path_(std::move(path)) {
  if (value.is_null()) {
    object_ = &kEmpty;
  } else if (value.is_object()) {
    object_ = &value.get_object();
  } else {
    throw InvalidParamsError(path_ + ": expected object");
  }
}

const json::value* ParamReader::lookup(std::string_view key) const {
  const auto* found = object_->if_contains(key);
  return (found == nullptr || found->is_null()) ? nullptr : found;
}

bool ParamReader::has(std::string_view key) const {
  return lookup(key) != nullptr;
}

void ParamReader::fail(std::string_view key, std::string_view expectation) const {
  throw InvalidParamsError(path_ + "." + std::string(key) + ": " + std::string(expectation));
}

std::string ParamReader::requiredString(std::string_view key) const {
  const auto* value = lookup(key);
  if (value == nullptr) fail(key, "required string is missing");
  if (!value->is_string()) fail(key, "expected string");
  return std::string(value->get_string());
}

std::optional<std::string> ParamReader::optionalString(std::string_view key) const {
  const auto* value = lookup(key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) fail(key, "expected string");
  return std::string(value->get_string());
}

std::optional<std::int64_t> ParamReader::optionalInteger(std::string_view key) const {
  const auto* value = lookup(key);
  if (value == nullptr) return std::nullopt;
  if (value->is_int64()) return value->get_int64();
  if (value->is_uint64() && value->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(value->get_uint64());
  }
  fail(key, "expected integer");
}

std::optional<bool> ParamReader::optionalBool(std::string_view key) const {
  const auto* value = lookup(key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_bool()) fail(key, "expected boolean");
  return value->get_bool();
}

ParamReader ParamReader::object(std::string_view key) const {
  const auto* value = lookup(key);
  const std::string nested = path_ + "." + std::string(key);
  if (value == nullptr) return ParamReader(kNull, nested);
  if (!value->is_object()) fail(key, "expected object");
  return ParamReader(*value, nested);
}

const json::value& ParamReader::raw(std::string_view key) const {
  const auto* value = object_->if_contains(key);
  return value == nullptr ? kNull : *value;
}

}  // namespace tether::jsonrpc
