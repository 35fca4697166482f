// libcurl wrapper; see http.h.
#include "hub/http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <mutex>

#include "cloze/error.h"

namespace cloze::hub {

namespace {

// curl_global_init is not thread-safe; do it once, before any handle.
void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  CURL* curl;
  const HttpRequest* req;
  HttpResponse* resp;
  std::exception_ptr error;  // thrown by on_body; rethrown after curl returns
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, size * n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  // With redirects followed, curl passes the headers of every response;
  // each starts with a status line, so keep only the last response's.
  if (line.rfind("HTTP/", 0) == 0) {
    t->resp->headers.clear();
    return size * n;
  }
  const auto colon = line.find(':');
  if (colon == std::string::npos) return size * n;
  std::string name = line.substr(0, colon), value = line.substr(colon + 1);
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  const auto b = value.find_first_not_of(" \t");
  value = b == std::string::npos ? "" : value.substr(b);
  t->resp->headers[name] = value;
  return size * n;
}

size_t on_data(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t bytes = size * n;
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status >= 300) {
    // An error page: keep its start for the message, never write it to a file.
    constexpr size_t kKeep = 4096;
    if (t->resp->error_body.size() < kKeep)
      t->resp->error_body.append(data, std::min(bytes, kKeep - t->resp->error_body.size()));
    return bytes;
  }
  try {
    if (t->req->on_body) t->req->on_body(status, data, bytes);
  } catch (...) {
    t->error = std::current_exception();
    return 0;  // makes curl abort with CURLE_WRITE_ERROR
  }
  t->resp->body_bytes += bytes;
  return bytes;
}

bool is_connect_failure(CURLcode rc, CURL* curl) {
  // A proxy that refuses the tunnel (a machine allowed only some hosts) is
  // as final as a refused connection, whatever code this libcurl gives it.
  long proxy_code = 0;
  curl_easy_getinfo(curl, CURLINFO_HTTP_CONNECTCODE, &proxy_code);
  if (proxy_code >= 300) return true;
  switch (rc) {
    case CURLE_PROXY:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
      return true;
    case CURLE_OPERATION_TIMEDOUT: {
      // A timeout before the connection was up is a connect failure.
      curl_off_t connect_us = 0;
      curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connect_us);
      return connect_us == 0;
    }
    default:
      return false;
  }
}

}  // namespace

std::string HttpResponse::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

HttpClient::HttpClient() {
  global_init();
  curl_ = curl_easy_init();
  if (!curl_) throw Error("libcurl: cannot create a handle");
}

HttpClient::~HttpClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

HttpResponse HttpClient::send(const HttpRequest& req) {
  CURL* c = static_cast<CURL*>(curl_);
  curl_easy_reset(c);  // keeps the connection cache, drops the last request's options
  HttpResponse resp;
  Transfer t{c, &req, &resp, nullptr};
  char errbuf[CURL_ERROR_SIZE] = {0};

  curl_slist* headers = nullptr;
  for (const auto& h : req.headers) headers = curl_slist_append(headers, h.c_str());
  curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_NOBODY, req.head ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, req.follow_redirects ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  // Only http(s), also after a redirect: a Location must not reach file:// etc.
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_USERAGENT, "cloze/0.1.0");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, req.connect_timeout_s);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, req.timeout_s);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, req.stall_timeout_s);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for DNS timeouts in threads
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  // No Accept-Encoding: the bytes on disk must be the file's bytes, and Range
  // offsets must count them, so the body is never compressed in transit.

  const CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);  // errbuf goes out of scope
  if (t.error) std::rethrow_exception(t.error);
  if (rc != CURLE_OK) {
    std::string msg = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    const auto phase = is_connect_failure(rc, c) ? NetError::Phase::Connect : NetError::Phase::Transfer;
    throw NetError(phase, msg, resp.body_bytes);
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
  return resp;
}

std::string url_quote(const std::string& s, bool keep_slash) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~' || (keep_slash && ch == '/')) {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += hex[ch >> 4];
      out += hex[ch & 15];
    }
  }
  return out;
}

}  // namespace cloze::hub
