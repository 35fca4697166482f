// See sse_stream.h.
#include "server/sse_stream.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>

#include "server/api_error.h"

namespace cloze::server {
namespace {

using nlohmann::ordered_json;

struct Channel {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> pieces;
  std::atomic<bool> cancelled{false};
};

bool send_event(httplib::DataSink& sink, const ordered_json& j) {
  std::string s = "data: ";
  s += j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
  s += "\n\n";
  return sink.write(s.data(), s.size());
}

}  // namespace

void stream_generation(httplib::Response& res, ModelWorker& worker, std::vector<Prompt> prompts,
                       GenerateOptions options, StreamFormat format) {
  auto ch = std::make_shared<Channel>();
  // Runs on the model thread: never blocks on the client.
  TokenCallback on_token = [ch](const TokenEvent& ev) {
    if (ch->cancelled.load()) return false;
    if (!ev.text.empty()) {
      std::lock_guard<std::mutex> lock(ch->mu);
      ch->pieces.emplace_back(ev.text);
    }
    ch->cv.notify_one();
    return true;
  };
  std::shared_future<GenerateOutcome> done =
      worker.generate(std::move(prompts), std::move(options), std::nullopt, std::move(on_token)).share();
  auto fmt = std::make_shared<StreamFormat>(std::move(format));
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider("text/event-stream", [ch, done, fmt](size_t, httplib::DataSink& sink) {
    auto gone = [&] {
      ch->cancelled = true;  // the generation stops at its next token
      return false;
    };
    for (const auto& j : fmt->start)
      if (!send_event(sink, j)) return gone();
    for (;;) {
      std::deque<std::string> got;
      {
        std::unique_lock<std::mutex> lock(ch->mu);
        ch->cv.wait_for(lock, std::chrono::milliseconds(20), [&] { return !ch->pieces.empty(); });
        got.swap(ch->pieces);
      }
      for (const auto& p : got)
        if (!send_event(sink, fmt->piece(p))) return gone();
      if (!got.empty()) continue;
      if (done.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
        if (!sink.is_writable()) return gone();
        continue;
      }
      {  // everything the generation produced is in the channel by now
        std::lock_guard<std::mutex> lock(ch->mu);
        got.swap(ch->pieces);
      }
      for (const auto& p : got)
        if (!send_event(sink, fmt->piece(p))) return gone();
      try {
        for (const auto& j : fmt->finish(done.get()))
          if (!send_event(sink, j)) return gone();
      } catch (const ApiError& e) {
        send_event(sink, error_body(e));
      } catch (const std::exception& e) {
        send_event(sink, error_body(std::string("internal error: ") + e.what(), "server_error", ""));
      }
      static const char kDone[] = "data: [DONE]\n\n";
      sink.write(kDone, sizeof kDone - 1);
      sink.done();
      return true;
    }
  });
}

}  // namespace cloze::server
