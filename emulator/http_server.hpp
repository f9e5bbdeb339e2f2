// A small HTTP/1.1 server on POSIX sockets: one thread per connection,
// keep-alive, Content-Length and chunked request bodies. Written for the
// emulator because it must be able to misbehave on purpose: close a
// connection without answering, or cut a body short, which a general
// purpose server library does not let a handler do.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace emu {

struct HttpRequest {
    std::string method;
    std::string target;                          // as sent: path plus optional ?query
    std::string path;                            // percent-decoded path
    std::string query;                           // raw query string, without '?'
    std::map<std::string, std::string> headers;  // lower-case names
    std::map<std::string, std::string> params;   // decoded query parameters
    std::string body;

    [[nodiscard]] std::string header(const std::string& lower_name) const;
};

// What the server does with an answer.
enum class Delivery {
    Normal,    // write the whole answer
    Drop,      // close the connection, write nothing
    Truncate,  // write the head (with the full Content-Length), then half the body, then close
};

struct HttpResponse {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    Delivery delivery = Delivery::Normal;

    void set_header(const std::string& name, const std::string& value);
    [[nodiscard]] std::string header(const std::string& name) const;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
  public:
    explicit HttpServer(HttpHandler handler);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds and listens; returns false with a message on failure.
    bool listen(const std::string& host, std::uint16_t port, std::string& error);
    [[nodiscard]] std::uint16_t port() const { return m_port; }

    // Starts the accept loop in a thread.
    void start();
    // Stops accepting, closes every connection and waits for their threads.
    void stop();

  private:
    void accept_loop();
    void serve(int fd);

    HttpHandler m_handler;
    int m_listen_fd = -1;
    int m_wake_pipe[2] = {-1, -1};
    std::uint16_t m_port = 0;
    std::atomic<bool> m_stopping{false};
    std::mutex m_mu;
    std::condition_variable m_cv;
    std::map<int, bool> m_open_fds;  // fd -> busy answering a request
    void set_busy(int fd, bool busy);
    int m_live_threads = 0;
};

std::string status_reason(int status);
std::string percent_decode(const std::string& in, bool plus_as_space);

}  // namespace emu
