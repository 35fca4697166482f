#include "server/http_front.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <unordered_map>

#include "cloze/error.h"
#include "server/api_error.h"

namespace cloze::server {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kOutHighWater = 1 << 20;  // stop reading the handler while the client lags this much
constexpr size_t kMaxResponseHead = 64 * 1024;

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = char(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

const char* reason(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

// A complete response of the front's own, in the API's error shape.
std::string error_response(int status, const std::string& message, int retry_after_s) {
  const std::string body =
      error_body(message, status == 503 ? "server_error" : "invalid_request_error", "").dump() + "\n";
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\n";
  r += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  if (status == 503) r += "Retry-After: " + std::to_string(retry_after_s) + "\r\n";
  r += "Connection: close\r\n\r\n" + body;
  return r;
}

}  // namespace

struct HttpFront::Impl {
  struct Conn {
    int fd = -1, up = -1;
    // Closing: the last answer is being written. Draining: written and our
    // side shut down; what the client still sends is read and dropped for a
    // moment, so that closing with unread bytes does not reset the connection
    // and destroy the answer before the client reads it.
    enum class State { Head, Body, InFlight, Closing, Draining } state = State::Head;
    std::string in;             // client bytes not yet forwarded
    std::string out;            // bytes for the client, from out_off on
    size_t out_off = 0;
    std::string to_up;          // the request for the handlers, from up_off on
    size_t up_off = 0;
    std::string head;           // the rewritten request head
    size_t head_len = 0, body_len = 0;
    Clock::time_point deadline{}, last_write = Clock::now();
    bool has_deadline = false, idle = false;
    bool client_close = false;  // the client asked to close after this response
    bool up_connected = false, any_response = false, response_head_done = false, keep_alive = false;
    std::string response_head;  // the handler's status line + headers, until complete
    std::string path;
    size_t pending_out() const { return out.size() - out_off; }
  };

  explicit Impl(FrontOptions o) : opt(std::move(o)) {}

  FrontOptions opt;
  int listen_fd = -1, ep = -1, wake = -1, upstream_port = 0;
  std::atomic<bool> stop_requested{false};
  bool stopping = false;
  bool accept_paused = false;  // out of descriptors: wait for a connection to close
  std::unordered_map<int, std::unique_ptr<Conn>> conns;  // by client fd
  std::unordered_map<int, int> up_owner;                 // handler fd -> client fd

  void watch(int fd, uint32_t events, bool add) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    epoll_ctl(ep, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev);
  }

  // Interest follows state: read the client only while a request is being
  // read; read the handler only while the client keeps up.
  void update(Conn& c) {
    uint32_t ev = 0;
    if (c.state == Conn::State::Head || c.state == Conn::State::Body || c.state == Conn::State::Draining) ev |= EPOLLIN;
    if (c.pending_out()) ev |= EPOLLOUT;
    watch(c.fd, ev, false);
    if (c.up >= 0) {
      uint32_t uev = 0;
      if (!c.up_connected || c.up_off < c.to_up.size()) uev |= EPOLLOUT;
      if (c.up_connected && c.pending_out() < kOutHighWater) uev |= EPOLLIN;
      watch(c.up, uev, false);
    }
  }

  void close_up(Conn& c) {
    if (c.up < 0) return;
    up_owner.erase(c.up);
    ::close(c.up);  // also removes it from the epoll set
    c.up = -1;
  }

  void close_conn(Conn& c) {
    close_up(c);
    const int fd = c.fd;
    ::close(fd);
    conns.erase(fd);  // c is gone
    if (accept_paused && listen_fd >= 0) {  // a descriptor is free again
      accept_paused = false;
      watch(listen_fd, EPOLLIN, false);
    }
  }

  // The front answers itself and closes once the answer is out.
  void refuse(Conn& c, int status, const std::string& message) {
    if (opt.on_refused) opt.on_refused(c.path, status);
    close_up(c);
    c.out.erase(0, c.out_off);
    c.out_off = 0;
    c.out += error_response(status, message, opt.retry_after_s);
    c.state = Conn::State::Closing;
    c.has_deadline = true;  // a client that never reads its answer still goes
    c.idle = true;
    c.deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.body_timeout_s));
  }

  static Clock::time_point after(double s) {
    return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  }

  // Returns false when the connection was closed.
  bool flush_client(Conn& c) {
    while (c.pending_out()) {
      const ssize_t w = ::send(c.fd, c.out.data() + c.out_off, std::min<size_t>(c.pending_out(), 1 << 18), MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (w <= 0) {  // the client went away: nothing more can reach it
        close_conn(c);
        return false;
      }
      c.out_off += size_t(w);
      c.last_write = Clock::now();
    }
    if (c.out_off == c.out.size()) {
      c.out.clear();
      c.out_off = 0;
    } else if (c.out_off > (1u << 20)) {
      c.out.erase(0, c.out_off);
      c.out_off = 0;
    }
    if (!c.pending_out() && c.state == Conn::State::Closing) {
      ::shutdown(c.fd, SHUT_WR);
      c.state = Conn::State::Draining;
      c.has_deadline = c.idle = true;
      c.deadline = after(2);
    }
    return true;
  }

  // Parses what the client sent so far; forwards a whole request.
  void parse(Conn& c) {
    using S = Conn::State;
    if (c.state == S::Head) {
      if (!c.in.empty() && (c.idle || !c.has_deadline)) {
        c.idle = false;
        c.has_deadline = true;
        c.deadline = after(opt.header_timeout_s);
      }
      const size_t end = c.in.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (c.in.size() > opt.max_header_bytes)
          refuse(c, 431, "the request headers are over the limit of " + std::to_string(opt.max_header_bytes) + " bytes");
        return;
      }
      c.head_len = end + 4;
      if (c.head_len > opt.max_header_bytes)
        return refuse(c, 431, "the request headers are over the limit of " + std::to_string(opt.max_header_bytes) + " bytes");
      std::string_view head(c.in.data(), end);
      const size_t eol = head.find("\r\n");
      const std::string_view line = head.substr(0, eol);
      const size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
      if (sp1 == std::string_view::npos || sp2 == sp1)
        return refuse(c, 400, "malformed HTTP request line");
      const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      const std::string_view version = line.substr(sp2 + 1);
      c.path = std::string(target.substr(0, target.find('?')));
      c.client_close = version == "HTTP/1.0";
      bool expect_continue = false, have_length = false;
      size_t length = 0;
      c.head.assign(line);
      c.head += "\r\n";
      size_t pos = eol == std::string_view::npos ? head.size() : eol + 2;
      while (pos < head.size()) {
        size_t next = head.find("\r\n", pos);
        if (next == std::string_view::npos) next = head.size();
        const std::string_view h = head.substr(pos, next - pos);
        pos = next + 2;
        const size_t colon = h.find(':');
        if (colon == std::string_view::npos) return refuse(c, 400, "malformed HTTP header line");
        const std::string name = lower(trim(h.substr(0, colon)));
        const std::string value = lower(trim(h.substr(colon + 1)));
        if (name == "content-length") {
          size_t v = 0;
          if (value.empty() || value.size() > 18 || value.find_first_not_of("0123456789") != std::string::npos)
            return refuse(c, 400, "Content-Length is not a number");
          v = std::stoull(value);
          if (have_length && v != length) return refuse(c, 400, "two different Content-Length headers");
          if (!have_length) c.head += "Content-Length: " + value + "\r\n";
          have_length = true;
          length = v;
          continue;
        }
        if (name == "transfer-encoding")
          return refuse(c, 411, "chunked request bodies are not accepted; send the body with Content-Length");
        if (name == "connection") {
          if (value.find("close") != std::string::npos) c.client_close = true;
          if (value.find("keep-alive") != std::string::npos && version == "HTTP/1.0") c.client_close = false;
          continue;
        }
        if (name == "expect") {
          expect_continue = value == "100-continue";
          continue;
        }
        if (name == "keep-alive" || name == "proxy-connection") continue;
        c.head.append(h);
        c.head += "\r\n";
      }
      c.head += "Connection: close\r\n\r\n";
      if (length > opt.max_body_bytes)
        return refuse(c, 413, "the request body is over the limit of " + std::to_string(opt.max_body_bytes) + " bytes");
      c.body_len = length;
      c.state = S::Body;
      c.has_deadline = true;
      c.deadline = after(opt.body_timeout_s);
      if (expect_continue && c.in.size() - c.head_len < c.body_len) c.out += "HTTP/1.1 100 Continue\r\n\r\n";
    }
    if (c.state == S::Body && c.in.size() - c.head_len >= c.body_len) {
      c.to_up = std::move(c.head);
      c.to_up.append(c.in, c.head_len, c.body_len);
      c.up_off = 0;
      c.in.erase(0, c.head_len + c.body_len);
      c.state = S::InFlight;
      c.has_deadline = false;
      c.any_response = c.response_head_done = c.up_connected = false;
      c.response_head.clear();
      connect_up(c);
    }
  }

  void connect_up(Conn& c) {
    c.up = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.up < 0) return refuse(c, 503, std::string("cannot reach the request handlers: ") + std::strerror(errno));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(upstream_port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(c.up, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
      const int err = errno;
      ::close(c.up);
      c.up = -1;
      return refuse(c, 503, std::string("cannot reach the request handlers: ") + std::strerror(err));
    }
    up_owner[c.up] = c.fd;
    watch(c.up, EPOLLOUT, true);
  }

  // The handler's status line and headers: keep the client's connection open
  // when the response says where it ends (a length or chunked framing).
  std::string rewrite_response_head(Conn& c, std::string_view head) {
    std::string out;
    bool framed = false;
    size_t pos = 0;
    bool first = true;
    while (pos < head.size()) {
      size_t next = head.find("\r\n", pos);
      if (next == std::string_view::npos) next = head.size();
      const std::string_view h = head.substr(pos, next - pos);
      pos = next + 2;
      if (h.empty()) continue;
      if (!first) {
        const size_t colon = h.find(':');
        const std::string name = colon == std::string_view::npos ? std::string() : lower(trim(h.substr(0, colon)));
        if (name == "connection" || name == "keep-alive") continue;
        if (name == "content-length") framed = true;
        if (name == "transfer-encoding" && lower(h).find("chunked") != std::string::npos) framed = true;
      }
      first = false;
      out.append(h);
      out += "\r\n";
    }
    c.keep_alive = framed && !c.client_close && !stopping;
    out += c.keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
    return out;
  }

  // The handler closed its connection: the response is complete.
  void response_done(Conn& c) {
    close_up(c);
    if (!c.any_response) return refuse(c, 503, "the request was not answered (the server is stopping or overloaded); retry");
    if (!c.response_head_done) {  // a response with no end of headers: pass it on as it is
      c.out += c.response_head;
      c.keep_alive = false;
    }
    if (!c.keep_alive) {
      c.state = Conn::State::Closing;
      c.has_deadline = true;
      c.idle = true;
      c.deadline = after(opt.body_timeout_s);
      return;
    }
    c.state = Conn::State::Head;
    c.has_deadline = true;
    c.idle = c.in.empty();
    c.deadline = after(c.idle ? opt.idle_timeout_s : opt.header_timeout_s);
    parse(c);
  }

  void on_up(Conn& c, uint32_t events) {
    if (!c.up_connected && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c.up, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err) {
        close_up(c);
        return refuse(c, 503, std::string("cannot reach the request handlers: ") + std::strerror(err));
      }
      c.up_connected = true;
    }
    while (c.up_connected && c.up_off < c.to_up.size()) {
      const ssize_t w = ::send(c.up, c.to_up.data() + c.up_off, c.to_up.size() - c.up_off, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (w <= 0) return response_done(c);  // the handler side hung up
      c.up_off += size_t(w);
    }
    if (c.up_off == c.to_up.size()) {
      c.to_up.clear();
      c.up_off = 0;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
      char buf[kReadChunk];
      for (int round = 0; round < 16 && c.pending_out() < kOutHighWater; ++round) {
        const ssize_t n = ::recv(c.up, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n <= 0) return response_done(c);
        c.any_response = true;
        if (c.response_head_done) {
          c.out.append(buf, size_t(n));
          continue;
        }
        c.response_head.append(buf, size_t(n));
        const size_t end = c.response_head.find("\r\n\r\n");
        if (end == std::string::npos) {
          if (c.response_head.size() > kMaxResponseHead) {  // not ours to judge: relay as is
            c.out += c.response_head;
            c.response_head.clear();
            c.response_head_done = true;
            c.client_close = true;
          }
          continue;
        }
        c.out += rewrite_response_head(c, std::string_view(c.response_head).substr(0, end + 2));
        c.out.append(c.response_head, end + 4);
        c.response_head.clear();
        c.response_head_done = true;
      }
    }
  }

  // Reads what the client sent and parses it; false when the client hung up
  // before sending a whole request (the connection is then closed).
  bool read_request(Conn& c) {
    char buf[kReadChunk];
    const size_t cap = opt.max_header_bytes + opt.max_body_bytes + kReadChunk;
    while (c.in.size() < cap) {
      const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n <= 0) {
        close_conn(c);
        return false;
      }
      c.in.append(buf, size_t(n));
    }
    parse(c);
    return true;
  }

  void on_client(Conn& c, uint32_t events) {
    if (c.state == Conn::State::Draining) {
      char buf[kReadChunk];
      for (;;) {
        const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        close_conn(c);  // the client closed too (or reset): done
        return;
      }
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
      if (c.state == Conn::State::Head || c.state == Conn::State::Body) {
        if (!read_request(c)) return;
      } else if (events & (EPOLLHUP | EPOLLERR)) {
        close_conn(c);
        return;
      }
    }
    flush_client(c);
  }

  void accept_all() {
    for (;;) {
      const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if ((errno == EMFILE || errno == ENFILE) && !conns.empty()) {
          accept_paused = true;  // level-triggered: stop asking until one closes
          watch(listen_fd, 0, false);
        }
        return;
      }
      int yes = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
      // Over the limit: answered 503 and closed, as its own short-lived
      // connection (at most as many again; past that, closed at once).
      const bool over = conns.size() >= opt.max_connections;
      if (over && conns.size() >= 2 * opt.max_connections) {
        ::close(fd);
        continue;
      }
      auto c = std::make_unique<Conn>();
      c->fd = fd;
      c->has_deadline = true;  // a connection that never sends a request gets 408
      c->deadline = after(opt.header_timeout_s);
      watch(fd, over ? 0u : uint32_t(EPOLLIN), true);
      Conn& ref = *c;
      conns.emplace(fd, std::move(c));
      if (over) {
        refuse(ref, 503, "the server has " + std::to_string(opt.max_connections) +
                             " open connections, its limit; retry later");
        if (flush_client(ref)) update(ref);
      }
    }
  }

  // Stopping: connections the kernel already accepted are taken, and every
  // request whose bytes were sent is served (a partial one keeps its
  // deadline); only connections with nothing sent are closed. Answers say
  // "Connection: close", so no connection starts another request.
  void begin_stop() {
    if (listen_fd >= 0) {
      accept_all();
      ::close(listen_fd);
      listen_fd = -1;
    }
    stopping = true;
    std::vector<int> fds;
    for (auto& [fd, c] : conns) fds.push_back(fd);
    for (int fd : fds) {
      auto it = conns.find(fd);
      if (it == conns.end()) continue;
      Conn& c = *it->second;
      if (c.state != Conn::State::Head && c.state != Conn::State::Body) continue;
      if (!read_request(c)) continue;
      if (c.state == Conn::State::Head && c.in.empty() && !c.pending_out()) close_conn(c);
      else if (flush_client(c)) update(c);
    }
  }

  void sweep_deadlines() {
    const auto now = Clock::now();
    std::vector<int> due;
    for (auto& [fd, c] : conns) {
      const bool stalled = c->pending_out() && now - c->last_write > std::chrono::duration<double>(opt.body_timeout_s);
      if ((c->has_deadline && now >= c->deadline) || stalled) due.push_back(fd);
    }
    for (int fd : due) {
      Conn& c = *conns.at(fd);
      const bool stalled = c.pending_out() && now - c.last_write > std::chrono::duration<double>(opt.body_timeout_s);
      if (c.idle || stalled || c.state == Conn::State::Closing || c.state == Conn::State::InFlight) {
        close_conn(c);  // idle keep-alive, or a client that does not read its answer
        continue;
      }
      const bool head = c.state == Conn::State::Head;
      char secs[32];
      std::snprintf(secs, sizeof secs, "%g", head ? opt.header_timeout_s : opt.body_timeout_s);
      refuse(c, 408, std::string("the request ") + (head ? "headers" : "body") + " did not arrive within " + secs +
                         " s; send the whole request at once");
      c.last_write = now;
      if (flush_client(c)) update(c);
    }
  }

  void loop() {
    epoll_event events[256];
    for (;;) {
      if (stop_requested.load() && !stopping) begin_stop();
      if (stopping && conns.empty()) return;
      const int n = epoll_wait(ep, events, 256, 50);
      if (n < 0 && errno != EINTR) throw Error(std::string("serve: epoll_wait failed: ") + std::strerror(errno));
      for (int i = 0; i < std::max(n, 0); ++i) {
        const int fd = events[i].data.fd;
        if (fd == wake) {
          uint64_t v;
          (void)!::read(wake, &v, sizeof v);
          continue;
        }
        if (fd == listen_fd) {
          if (!stopping) accept_all();
          continue;
        }
        if (auto u = up_owner.find(fd); u != up_owner.end()) {
          const int client = u->second;  // on_up may close the handler side (and erase u)
          auto it = conns.find(client);
          if (it == conns.end()) continue;
          Conn& c = *it->second;
          on_up(c, events[i].events);
          if (conns.count(client) && flush_client(c)) update(c);
          continue;
        }
        auto it = conns.find(fd);
        if (it == conns.end()) continue;  // closed earlier in this round
        Conn& c = *it->second;
        on_client(c, events[i].events);
        if (conns.count(fd)) update(c);
      }
      sweep_deadlines();
    }
  }
};

HttpFront::HttpFront(FrontOptions o) : impl_(std::make_unique<Impl>(std::move(o))) {}

HttpFront::~HttpFront() {
  for (auto& [fd, c] : impl_->conns) {
    if (c->up >= 0) ::close(c->up);
    ::close(fd);
  }
  if (impl_->listen_fd >= 0) ::close(impl_->listen_fd);
  if (impl_->ep >= 0) ::close(impl_->ep);
  if (impl_->wake >= 0) ::close(impl_->wake);
}

int HttpFront::bind() {
  auto& o = impl_->opt;
  // Each client costs two descriptors (its own and the handler connection):
  // take what the hard limit allows before counting on max_connections.
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  const std::string port = std::to_string(o.port);
  if (getaddrinfo(o.host.c_str(), port.c_str(), &hints, &res) != 0 || !res)
    throw Error("serve: cannot resolve the host '" + o.host + "'", Subject::option("host"));
  int fd = -1;
  std::string why;
  for (addrinfo* a = res; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);  // not SO_REUSEPORT: a port in use is an error
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
      why = std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0)
    throw Error("serve: cannot listen on " + o.host + ":" + port + " (" + why + "); choose another host or port",
                Subject::option("port"));
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  const int bound = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                             : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  impl_->listen_fd = fd;
  impl_->ep = epoll_create1(EPOLL_CLOEXEC);
  impl_->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  impl_->watch(impl_->wake, EPOLLIN, true);
  impl_->watch(fd, EPOLLIN, true);
  return bound;
}

void HttpFront::run(int upstream_port) {
  impl_->upstream_port = upstream_port;
  impl_->loop();
}

void HttpFront::stop() {
  impl_->stop_requested = true;
  if (impl_->wake >= 0) {
    const uint64_t one = 1;
    (void)!::write(impl_->wake, &one, sizeof one);
  }
}

}  // namespace cloze::server
