#include "server/metrics.h"

#include <cstdio>
#include <cstdlib>

namespace cloze::server {

void Metrics::request(std::string_view endpoint, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{std::string(endpoint), status}];
}

void Metrics::latency(std::string_view endpoint, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  Histogram& h = latency_[std::string(endpoint)];
  for (size_t i = 0; i < kBuckets.size(); ++i)
    if (seconds <= kBuckets[i]) {
      ++h.le[i];
      break;
    }
  ++h.count;
  h.sum += seconds;
}

void Metrics::batch(size_t texts, size_t tokens) {
  std::lock_guard<std::mutex> lock(mu_);
  ++batches_;
  texts_ += texts;
  tokens_ += tokens;
}

namespace {

// Shortest text that reads back as the same double ("0.005", not 0.00500...01).
std::string num(double v) {
  char buf[32];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

void family(std::string& out, const char* name, const char* type, const char* help) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

std::string Metrics::render(size_t queue_depth, bool ready) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  family(out, "cloze_http_requests_total", "counter", "HTTP requests answered, by endpoint and status code.");
  for (auto& [key, n] : requests_)
    out += "cloze_http_requests_total{endpoint=\"" + key.first + "\",status=\"" + std::to_string(key.second) + "\"} " +
           std::to_string(n) + "\n";
  family(out, "cloze_http_errors_total", "counter", "HTTP requests answered with a status of 400 or more, by endpoint.");
  std::map<std::string, uint64_t> errors;
  for (auto& [key, n] : requests_)
    if (key.second >= 400) errors[key.first] += n;
  for (auto& [ep, n] : errors) out += "cloze_http_errors_total{endpoint=\"" + ep + "\"} " + std::to_string(n) + "\n";

  family(out, "cloze_request_duration_seconds", "histogram", "Wall time of scoring requests, received to answered.");
  for (auto& [ep, h] : latency_) {
    uint64_t cum = 0;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      cum += h.le[i];
      out += "cloze_request_duration_seconds_bucket{endpoint=\"" + ep + "\",le=\"" + num(kBuckets[i]) + "\"} " +
             std::to_string(cum) + "\n";
    }
    out += "cloze_request_duration_seconds_bucket{endpoint=\"" + ep + "\",le=\"+Inf\"} " + std::to_string(h.count) + "\n";
    out += "cloze_request_duration_seconds_sum{endpoint=\"" + ep + "\"} " + num(h.sum) + "\n";
    out += "cloze_request_duration_seconds_count{endpoint=\"" + ep + "\"} " + std::to_string(h.count) + "\n";
  }

  family(out, "cloze_texts_total", "counter", "Texts and prompts scored by the model.");
  out += "cloze_texts_total " + std::to_string(texts_) + "\n";
  family(out, "cloze_tokens_total", "counter", "Prompt tokens of the texts and prompts scored.");
  out += "cloze_tokens_total " + std::to_string(tokens_) + "\n";
  family(out, "cloze_batches_total", "counter", "Batches run by the model thread (one classify call or prompt set).");
  out += "cloze_batches_total " + std::to_string(batches_) + "\n";
  family(out, "cloze_queue_depth", "gauge", "Requests waiting for the model thread.");
  out += "cloze_queue_depth " + std::to_string(queue_depth) + "\n";
  family(out, "cloze_model_ready", "gauge", "1 once the model is loaded and requests are served.");
  out += std::string("cloze_model_ready ") + (ready ? "1" : "0") + "\n";
  return out;
}

}  // namespace cloze::server
