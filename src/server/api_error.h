#pragma once
// A request the server refuses, carried as an exception from wherever it is
// found (parsing, the queue, the model thread) to the HTTP handler, which
// answers with OpenAI's error shape:
//   {"error":{"message":..., "type":..., "param":<field or null>, "code":null}}
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace cloze::server {

struct ApiError : std::runtime_error {
  ApiError(int status, const std::string& message, std::string param = {},
           std::string type = "invalid_request_error")
      : std::runtime_error(message), status(status), param(std::move(param)), type(std::move(type)) {}
  int status;
  std::string param;  // the offending field, e.g. "texts[3]"; empty: none
  std::string type;
};

inline nlohmann::ordered_json error_body(const std::string& message, const std::string& type,
                                         const std::string& param) {
  nlohmann::ordered_json e;
  e["message"] = message;
  e["type"] = type;
  e["param"] = param.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(param);
  e["code"] = nullptr;
  return {{"error", e}};
}

inline nlohmann::ordered_json error_body(const ApiError& e) { return error_body(e.what(), e.type, e.param); }

}  // namespace cloze::server
