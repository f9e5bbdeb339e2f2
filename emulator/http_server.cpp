#include "http_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

namespace emu {

namespace {

constexpr std::size_t kMaxHead = 64 * 1024;
constexpr std::size_t kMaxBody = 8 * 1024 * 1024;
constexpr int kIdleTimeoutMs = 60'000;
constexpr int kPollSliceMs = 200;

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::string trim(const std::string& s) {
    std::size_t b = 0;
    std::size_t e = s.size();
    while (b < e && (s[b] == ' ' || s[b] == '\t'))
        ++b;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r'))
        --e;
    return s.substr(b, e - b);
}

int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// Reads from a socket into buf, waiting at most the idle timeout; false on
// EOF, error, timeout or server stop.
class Reader {
  public:
    Reader(int fd, const std::atomic<bool>& stopping) : fd_(fd), stopping_(stopping) {}

    bool fill() {
        int waited = 0;
        while (!stopping_.load()) {
            pollfd p{fd_, POLLIN, 0};
            const int r = ::poll(&p, 1, kPollSliceMs);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                return false;
            }
            if (r == 0) {
                waited += kPollSliceMs;
                if (waited >= kIdleTimeoutMs)
                    return false;
                continue;
            }
            char chunk[16384];
            const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return false;
            buf.append(chunk, static_cast<std::size_t>(n));
            return true;
        }
        return false;
    }

    // A line ending in CRLF (or LF), without it.
    std::optional<std::string> line(std::size_t max) {
        for (;;) {
            const auto pos = buf.find('\n');
            if (pos != std::string::npos) {
                std::string l = buf.substr(0, pos);
                buf.erase(0, pos + 1);
                if (!l.empty() && l.back() == '\r')
                    l.pop_back();
                return l;
            }
            if (buf.size() > max || !fill())
                return std::nullopt;
        }
    }

    std::optional<std::string> bytes(std::size_t n) {
        while (buf.size() < n) {
            if (!fill())
                return std::nullopt;
        }
        std::string out = buf.substr(0, n);
        buf.erase(0, n);
        return out;
    }

    std::string buf;

  private:
    int fd_;
    const std::atomic<bool>& stopping_;
};

bool send_all(int fd, const char* data, std::size_t len) {
    while (len > 0) {
        const ssize_t n = ::send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        data += n;
        len -= static_cast<std::size_t>(n);
    }
    return true;
}

bool send_all(int fd, const std::string& s) {
    return send_all(fd, s.data(), s.size());
}

void parse_query(const std::string& q, std::map<std::string, std::string>& out) {
    std::size_t start = 0;
    while (start <= q.size()) {
        auto amp = q.find('&', start);
        if (amp == std::string::npos)
            amp = q.size();
        const std::string part = q.substr(start, amp - start);
        if (!part.empty()) {
            const auto eq = part.find('=');
            if (eq == std::string::npos) {
                out.emplace(percent_decode(part, true), "");
            } else {
                out.emplace(percent_decode(part.substr(0, eq), true),
                            percent_decode(part.substr(eq + 1), true));
            }
        }
        start = amp + 1;
    }
}

std::string simple_error(int status) {
    return "HTTP/1.1 " + std::to_string(status) + " " + status_reason(status) +
           "\r\nContent-Type: text/plain\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
}

}  // namespace

std::string percent_decode(const std::string& in, bool plus_as_space) {
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '%' && i + 2 < in.size()) {
            const int hi = hex_value(in[i + 1]);
            const int lo = hex_value(in[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(plus_as_space && c == '+' ? ' ' : c);
    }
    return out;
}

std::string status_reason(int status) {
    switch (status) {
        case 100:
            return "Continue";
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 202:
            return "Accepted";
        case 204:
            return "No Content";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 409:
            return "Conflict";
        case 411:
            return "Length Required";
        case 412:
            return "Precondition Failed";
        case 413:
            return "Payload Too Large";
        case 422:
            return "Unprocessable Entity";
        case 429:
            return "Too Many Requests";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 502:
            return "Bad Gateway";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        default:
            return "Status";
    }
}

std::string HttpRequest::header(const std::string& lower_name) const {
    const auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
}

void HttpResponse::set_header(const std::string& name, const std::string& value) {
    for (auto& [k, v] : headers) {
        if (lower(k) == lower(name)) {
            v = value;
            return;
        }
    }
    headers.emplace_back(name, value);
}

std::string HttpResponse::header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
        if (lower(k) == lower(name))
            return v;
    }
    return {};
}

HttpServer::HttpServer(HttpHandler handler) : handler_(std::move(handler)) {}

HttpServer::~HttpServer() {
    stop();
}

bool HttpServer::listen(const std::string& host, std::uint16_t port, std::string& error) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) {
        error = std::string("socket: ") + std::strerror(errno);
        return false;
    }
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
        error = "not an IPv4 address: " + host;
        return false;
    }
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        error = "bind " + host + ":" + std::to_string(port) + ": " + std::strerror(errno);
        return false;
    }
    if (::listen(listen_fd_, 512) != 0) {
        error = std::string("listen: ") + std::strerror(errno);
        return false;
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (::pipe2(wake_pipe_, O_CLOEXEC) != 0) {
        error = std::string("pipe: ") + std::strerror(errno);
        return false;
    }
    return true;
}

void HttpServer::start() {
    std::lock_guard lock(mu_);
    ++live_threads_;
    std::thread([this] {
        accept_loop();
        std::lock_guard l(mu_);
        --live_threads_;
        cv_.notify_all();
    }).detach();
}

void HttpServer::stop() {
    if (stopping_.exchange(true))
        return;
    if (wake_pipe_[1] >= 0) {
        const char c = 'x';
        [[maybe_unused]] const auto n = ::write(wake_pipe_[1], &c, 1);
    }
    {
        std::unique_lock lock(mu_);
        // Idle connections go now; busy ones finish their answer (marked
        // Connection: close) and end on their own.
        for (const auto& [fd, busy] : open_fds_) {
            if (!busy)
                ::shutdown(fd, SHUT_RDWR);
        }
        cv_.wait(lock, [this] { return live_threads_ == 0; });
    }
    if (listen_fd_ >= 0)
        ::close(listen_fd_);
    if (wake_pipe_[0] >= 0)
        ::close(wake_pipe_[0]);
    if (wake_pipe_[1] >= 0)
        ::close(wake_pipe_[1]);
    listen_fd_ = -1;
    wake_pipe_[0] = wake_pipe_[1] = -1;
}

void HttpServer::set_busy(int fd, bool busy) {
    std::lock_guard lock(mu_);
    open_fds_[fd] = busy;
    // A connection that turns idle while stopping is closed at once.
    if (!busy && stopping_.load())
        ::shutdown(fd, SHUT_RD);
}

void HttpServer::accept_loop() {
    while (!stopping_.load()) {
        pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
        const int r = ::poll(fds, 2, -1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        if (stopping_.load() || (fds[1].revents & POLLIN) != 0)
            return;
        if ((fds[0].revents & POLLIN) == 0)
            continue;
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        std::lock_guard lock(mu_);
        if (stopping_.load()) {
            ::close(fd);
            return;
        }
        open_fds_[fd] = false;
        ++live_threads_;
        std::thread([this, fd] {
            serve(fd);
            std::lock_guard l(mu_);
            open_fds_.erase(fd);
            ::close(fd);
            --live_threads_;
            cv_.notify_all();
        }).detach();
    }
}

void HttpServer::serve(int fd) {
    Reader in(fd, stopping_);
    for (;;) {
        // Request line, skipping stray empty lines between requests.
        std::optional<std::string> first;
        do {
            first = in.line(kMaxHead);
            if (!first)
                return;
        } while (first->empty());

        HttpRequest req;
        {
            const auto sp1 = first->find(' ');
            const auto sp2 = first->rfind(' ');
            if (sp1 == std::string::npos || sp2 == sp1) {
                send_all(fd, simple_error(400));
                return;
            }
            req.method = first->substr(0, sp1);
            req.target = first->substr(sp1 + 1, sp2 - sp1 - 1);
            const std::string version = first->substr(sp2 + 1);
            if (version.rfind("HTTP/1.", 0) != 0) {
                send_all(fd, simple_error(400));
                return;
            }
            std::size_t head_size = first->size();
            for (;;) {
                auto l = in.line(kMaxHead);
                if (!l)
                    return;
                if (l->empty())
                    break;
                head_size += l->size();
                if (head_size > kMaxHead) {
                    send_all(fd, simple_error(431));
                    return;
                }
                const auto colon = l->find(':');
                if (colon == std::string::npos)
                    continue;
                std::string name = lower(trim(l->substr(0, colon)));
                std::string value = trim(l->substr(colon + 1));
                auto [it, inserted] = req.headers.emplace(name, value);
                if (!inserted)
                    it->second += ", " + value;
            }
            bool keep_alive = version == "HTTP/1.1";
            const std::string conn = lower(req.header("connection"));
            if (conn.find("close") != std::string::npos)
                keep_alive = false;
            if (conn.find("keep-alive") != std::string::npos)
                keep_alive = true;

            const auto q = req.target.find('?');
            std::string raw_path = req.target.substr(0, q);
            if (q != std::string::npos)
                req.query = req.target.substr(q + 1);
            // Absolute-form targets (proxies): keep only the path.
            if (raw_path.rfind("http://", 0) == 0 || raw_path.rfind("https://", 0) == 0) {
                const auto slash = raw_path.find('/', raw_path.find("//") + 2);
                raw_path = slash == std::string::npos ? "/" : raw_path.substr(slash);
            }
            req.path = percent_decode(raw_path, false);
            parse_query(req.query, req.params);

            if (lower(req.header("expect")) == "100-continue") {
                if (!send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n"))
                    return;
            }
            const std::string te = lower(req.header("transfer-encoding"));
            if (te.find("chunked") != std::string::npos) {
                for (;;) {
                    auto size_line = in.line(1024);
                    if (!size_line)
                        return;
                    std::size_t size = 0;
                    try {
                        size = std::stoul(*size_line, nullptr, 16);
                    } catch (...) {
                        send_all(fd, simple_error(400));
                        return;
                    }
                    if (size == 0) {
                        // Trailers until the empty line.
                        for (;;) {
                            auto t = in.line(kMaxHead);
                            if (!t)
                                return;
                            if (t->empty())
                                break;
                        }
                        break;
                    }
                    if (req.body.size() + size > kMaxBody) {
                        send_all(fd, simple_error(413));
                        return;
                    }
                    auto data = in.bytes(size);
                    if (!data)
                        return;
                    req.body += *data;
                    if (!in.line(16))
                        return;
                }
            } else if (!req.header("content-length").empty()) {
                std::size_t len = 0;
                try {
                    len = std::stoul(req.header("content-length"));
                } catch (...) {
                    send_all(fd, simple_error(400));
                    return;
                }
                if (len > kMaxBody) {
                    send_all(fd, simple_error(413));
                    return;
                }
                auto data = in.bytes(len);
                if (!data)
                    return;
                req.body = std::move(*data);
            }

            set_busy(fd, true);
            HttpResponse res;
            try {
                res = handler_(req);
            } catch (const std::exception&) {
                res = HttpResponse{};
                res.status = 500;
                res.set_header("Content-Type", "text/plain");
                res.body = "internal error in the emulator\n";
            }
            struct Idle {
                HttpServer* s;
                int fd;
                ~Idle() { s->set_busy(fd, false); }
            } idle{this, fd};
            if (res.delivery == Delivery::drop)
                return;  // closed by the caller thread

            const bool no_body = res.status == 204 || res.status == 304 || req.method == "HEAD";
            std::string head =
                "HTTP/1.1 " + std::to_string(res.status) + " " + status_reason(res.status) + "\r\n";
            for (const auto& [k, v] : res.headers)
                head += k + ": " + v + "\r\n";
            if (!no_body)
                head += "Content-Length: " + std::to_string(res.body.size()) + "\r\n";
            const bool close_after =
                !keep_alive || res.delivery == Delivery::truncate || stopping_.load();
            head += close_after ? "Connection: close\r\n" : "Connection: keep-alive\r\n";
            head += "\r\n";
            if (res.delivery == Delivery::truncate) {
                send_all(fd, head);
                send_all(fd, res.body.data(), res.body.size() / 2);
                return;
            }
            if (!no_body)
                head += res.body;
            if (!send_all(fd, head))
                return;
            if (close_after) {
                ::shutdown(fd, SHUT_WR);
                return;
            }
        }
    }
}

}  // namespace emu
