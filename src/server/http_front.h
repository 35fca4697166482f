#pragma once
// The server's front door: one epoll thread that owns the public listening
// socket and every client connection, and hands only *complete* requests to
// the route handlers (cpp-httplib, listening on an internal loopback port).
//
// Why: cpp-httplib gives each connection a thread from a fixed pool for as
// long as the connection lives, so 80 clients that send half a request and
// wait starve everyone else until their read timeout (34 s measured). Here a
// slow or idle connection costs a few hundred bytes of buffer and no thread:
// it is cut off with 408 when its header or body deadline passes, bodies
// over the limit get 413 before they are read, connections beyond the limit
// get 503 + Retry-After at once, and a handler thread is taken only when a
// whole request is there. The handlers (server.cpp and the routes other
// files add) stay plain httplib handlers, untouched.
//
// Each request goes to the handlers on a fresh loopback connection with
// "Connection: close", so the end of a response is the end of that
// connection: responses are relayed as they come (chunked SSE streams
// included) without parsing bodies, and a response with a length or chunked
// framing keeps the client's connection alive. One request per client
// connection is in flight at a time (pipelined requests wait in the socket).
// Stopping: connections already accepted by the kernel are taken, requests
// whose bytes were sent are answered (a partial one keeps its deadline),
// connections with nothing sent close, no connection starts another request,
// and run() returns when the last answer is out.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace cloze::server {

struct FrontOptions {
  std::string host = "127.0.0.1";
  int port = 0;                         // 0: any free port
  size_t max_connections = 1024;        // beyond: 503 at once
  size_t max_header_bytes = 16 * 1024;  // request line + headers; beyond: 431
  size_t max_body_bytes = 4u << 20;     // beyond: 413, body not read
  double header_timeout_s = 10;         // from accept / first byte to the end of the headers; then 408
  double body_timeout_s = 30;           // from the end of the headers to the end of the body; then 408
  double idle_timeout_s = 5;            // keep-alive connection with no request: closed quietly
  int retry_after_s = 1;
  // Called (on the front's thread) for each response the front makes itself.
  std::function<void(const std::string& path, int status)> on_refused;
};

class HttpFront {
 public:
  explicit HttpFront(FrontOptions o);
  ~HttpFront();
  // Binds and listens; returns the port. Throws cloze::Error.
  int bind();
  // Serves until stop() and every request in flight is answered.
  // `upstream_port`: where the handlers listen on 127.0.0.1.
  void run(int upstream_port);
  // Any thread, any number of times; returns at once.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cloze::server
