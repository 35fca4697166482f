#pragma once
// Streaming a generation as server-sent events (OpenAI's "stream": true):
// the model thread hands each token's final text to a channel; the HTTP
// thread writes one `data: {chunk}` event per piece, then the closing chunks
// and `data: [DONE]`. A client that goes away cancels its generation at the
// next token; the model thread never waits on a slow client.
#include <functional>
#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "server/model_worker.h"

namespace cloze::server {

struct StreamFormat {
  std::vector<nlohmann::ordered_json> start;                          // events before any text
  std::function<nlohmann::ordered_json(const std::string& text)> piece;
  std::function<std::vector<nlohmann::ordered_json>(const GenerateOutcome&)> finish;
};

// Queues the generation (an ApiError, e.g. a full queue, is thrown here,
// before any byte is sent) and sets `res` to stream its events.
void stream_generation(httplib::Response& res, ModelWorker& worker, std::vector<Prompt> prompts,
                       GenerateOptions options, StreamFormat format);

}  // namespace cloze::server
