#pragma once
// A small synchronous HTTP client over libcurl: what the Hub protocol needs
// (HEAD without following redirects, GET that follows them and streams the
// body to a callback, Range requests) and nothing else. Transport failures
// are told apart by phase, because a host that cannot be resolved or
// connected is worth at most a quick retry while a dropped transfer is
// worth resuming.
#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace cloze::hub {

// Failed below HTTP: no usable response.
class NetError : public std::runtime_error {
 public:
  enum class Phase { Connect, Transfer };
  NetError(Phase phase, const std::string& what, uint64_t body_bytes)
      : std::runtime_error(what), phase(phase), body_bytes(body_bytes) {}
  Phase phase;
  uint64_t body_bytes;  // body bytes received before the failure
};

struct HttpResponse {
  long status = 0;
  // Headers of the last response (after redirects), names in lower case.
  std::map<std::string, std::string> headers;
  // The start of the body of an error (>= 300) response, for messages.
  std::string error_body;
  uint64_t body_bytes = 0;  // body bytes handed to on_body

  // The header's value or "".
  std::string header(const std::string& lower_name) const;
};

struct HttpRequest {
  std::string url;
  bool head = false;
  bool follow_redirects = false;
  std::vector<std::string> headers;  // "Name: value"
  // Receives the body of a 2xx response as it arrives, with the status (so a
  // 200 answering a Range request can restart the file). May throw: the
  // transfer is aborted and the exception rethrown from send().
  std::function<void(long status, const char* data, size_t n)> on_body;
  long connect_timeout_s = 10;
  // Whole-request limit (0: none). Long downloads rely on the stall limit.
  long timeout_s = 0;
  // Abort when fewer than 1 byte/s arrive for this long.
  long stall_timeout_s = 30;
};

class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Any HTTP status is a response; transport failures throw NetError.
  // The handle (and its connection cache) is reused across calls.
  HttpResponse send(const HttpRequest& req);

 private:
  void* curl_;
};

// Percent-encodes `s` for a URL path; '/' is kept when `keep_slash`.
std::string url_quote(const std::string& s, bool keep_slash);

}  // namespace cloze::hub
