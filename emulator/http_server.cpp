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
#include <limits>
#include <optional>
#include <thread>

#include "util.hpp"

namespace emu {

namespace {

constexpr std::size_t k_max_head = std::size_t{64} * 1024;
constexpr std::size_t k_max_body = std::size_t{8} * 1024 * 1024;
constexpr int k_idle_timeout_ms = 60'000;
constexpr int k_poll_slice_ms = 200;

std::string trim(const std::string& s) {
    std::size_t b = 0;
    std::size_t e = s.size();
    while (b < e && (s[b] == ' ' || s[b] == '\t')) {
        ++b;
    }
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) {
        --e;
    }
    return s.substr(b, e - b);
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

// Reads from a socket into buf, waiting at most the idle timeout; false on
// EOF, error, timeout or server stop.
class Reader {
  public:
    Reader(int fd, const std::atomic<bool>& stopping) : m_fd(fd), m_stopping(stopping) {}

    bool fill() {
        int waited = 0;
        while (!m_stopping.load()) {
            pollfd p{m_fd, POLLIN, 0};
            const int r = ::poll(&p, 1, k_poll_slice_ms);
            if (r < 0) {
                if (errno == EINTR) {
                    continue;
                }
                return false;
            }
            if (r == 0) {
                waited += k_poll_slice_ms;
                if (waited >= k_idle_timeout_ms) {
                    return false;
                }
                continue;
            }
            char chunk[16384];
            const ssize_t n = ::recv(m_fd, chunk, sizeof chunk, 0);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                return false;
            }
            m_buf.append(chunk, static_cast<std::size_t>(n));
            return true;
        }
        return false;
    }

    // A line ending in CRLF (or LF), without it.
    std::optional<std::string> line(std::size_t max) {
        for (;;) {
            const auto pos = m_buf.find('\n');
            if (pos != std::string::npos) {
                std::string l = m_buf.substr(0, pos);
                m_buf.erase(0, pos + 1);
                if (!l.empty() && l.back() == '\r') {
                    l.pop_back();
                }
                return l;
            }
            if (m_buf.size() > max || !fill()) {
                return std::nullopt;
            }
        }
    }

    std::optional<std::string> bytes(std::size_t n) {
        while (m_buf.size() < n) {
            if (!fill()) {
                return std::nullopt;
            }
        }
        std::string out = m_buf.substr(0, n);
        m_buf.erase(0, n);
        return out;
    }

    [[nodiscard]] int fd() const { return m_fd; }

    std::string m_buf;

  private:
    int m_fd;
    const std::atomic<bool>& m_stopping;
};

bool send_all(int fd, const char* data, std::size_t len) {
    while (len > 0) {
        const ssize_t n = ::send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
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
        if (amp == std::string::npos) {
            amp = q.size();
        }
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

// A request line "METHOD /target HTTP/1.x": exactly three parts, an
// upper-case method and an origin-form target (libcurl sends nothing else
// to a server that is not a proxy).
bool parse_request_line(const std::string& line, HttpRequest& req, bool& http11) {
    const auto sp1 = line.find(' ');
    const auto sp2 = line.rfind(' ');
    if (sp1 == std::string::npos || sp1 == 0 || sp2 == sp1) {
        return false;
    }
    req.method = line.substr(0, sp1);
    req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string version = line.substr(sp2 + 1);
    const bool method_ok = std::all_of(req.method.begin(), req.method.end(),
                                       [](char c) { return c >= 'A' && c <= 'Z'; });
    if (!method_ok || req.target.empty() || req.target[0] != '/' ||
        req.target.find(' ') != std::string::npos) {
        return false;
    }
    if (version != "HTTP/1.1" && version != "HTTP/1.0") {
        return false;
    }
    http11 = version == "HTTP/1.1";
    const auto q = req.target.find('?');
    if (q != std::string::npos) {
        req.query = req.target.substr(q + 1);
    }
    req.path = percent_decode(req.target.substr(0, q), false);
    parse_query(req.query, req.params);
    return true;
}

// Digits only, at most max; nullopt otherwise (stoul would take "-1" or
// "12abc").
std::optional<std::size_t> parse_decimal(const std::string& s, std::size_t max) {
    if (s.empty() || s.size() > 19) {
        return std::nullopt;
    }
    std::size_t n = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        n = n * 10 + static_cast<std::size_t>(c - '0');
    }
    if (n > max) {
        return std::nullopt;
    }
    return n;
}

// A chunk-size line: hex digits, optionally followed by ";extension".
// Sizes saturate at k_max_body + 1, so no size can wrap around.
std::optional<std::size_t> parse_chunk_size(const std::string& line) {
    const std::string digits = trim(line.substr(0, line.find(';')));
    if (digits.empty()) {
        return std::nullopt;
    }
    std::size_t n = 0;
    for (const char c : digits) {
        const int v = hex_value(c);
        if (v < 0) {
            return std::nullopt;
        }
        n = std::min(n * 16 + static_cast<std::size_t>(v), k_max_body + 1);
    }
    return n;
}

// Reads a chunked body into out: 0 when done, -1 when the peer went away,
// else the status to answer with before closing.
int read_chunked(Reader& in, std::string& out) {
    for (;;) {
        auto size_line = in.line(1024);
        if (!size_line) {
            return -1;
        }
        const auto size = parse_chunk_size(*size_line);
        if (!size) {
            return 400;
        }
        if (*size == 0) {
            // Trailers (libcurl sends none) until the empty line.
            for (;;) {
                auto t = in.line(k_max_head);
                if (!t) {
                    return -1;
                }
                if (t->empty()) {
                    return 0;
                }
            }
        }
        // Compared this way round so that no sum can wrap.
        if (*size > k_max_body - out.size()) {
            return 413;
        }
        auto data = in.bytes(*size);
        if (!data) {
            return -1;
        }
        out += *data;
        auto end = in.line(16);
        if (!end) {
            return -1;
        }
        if (!end->empty()) {
            return 400;
        }
    }
}

// Reads one request: 0 when read, -1 when the peer went away, else the
// status to answer with before closing.
int read_request(Reader& in, HttpRequest& req, bool& keep_alive) {
    // Request line, skipping empty lines between requests (RFC 9112 2.2).
    std::optional<std::string> first;
    do {
        first = in.line(k_max_head);
        if (!first) {
            return -1;
        }
    } while (first->empty());
    bool http11 = false;
    if (!parse_request_line(*first, req, http11)) {
        return 400;
    }
    std::size_t head_size = first->size();
    for (;;) {
        auto l = in.line(k_max_head);
        if (!l) {
            return -1;
        }
        if (l->empty()) {
            break;
        }
        head_size += l->size();
        if (head_size > k_max_head) {
            return 431;
        }
        const auto colon = l->find(':');
        if (colon == std::string::npos || colon == 0) {
            return 400;
        }
        const std::string name = lower(trim(l->substr(0, colon)));
        const std::string value = trim(l->substr(colon + 1));
        auto [it, inserted] = req.headers.emplace(name, value);
        if (!inserted) {
            it->second += ", " + value;
        }
    }
    keep_alive = http11;
    const std::string conn = lower(req.header("connection"));
    if (conn.find("close") != std::string::npos) {
        keep_alive = false;
    } else if (conn.find("keep-alive") != std::string::npos) {
        keep_alive = true;
    }
    // libcurl asks for it before a large POST body.
    if (lower(req.header("expect")) == "100-continue" &&
        !send_all(in.fd(), "HTTP/1.1 100 Continue\r\n\r\n")) {
        return -1;
    }
    if (lower(req.header("transfer-encoding")).find("chunked") != std::string::npos) {
        return read_chunked(in, req.body);
    }
    const std::string length_text = req.header("content-length");
    if (length_text.empty()) {
        return 0;
    }
    const auto length = parse_decimal(length_text, std::numeric_limits<std::size_t>::max());
    if (!length) {
        return 400;
    }
    if (*length > k_max_body) {
        return 413;
    }
    auto data = in.bytes(*length);
    if (!data) {
        return -1;
    }
    req.body = std::move(*data);
    return 0;
}

// Writes the answer as its delivery says; false when the connection must
// close now.
bool write_answer(int fd, const HttpResponse& res, bool keep_alive) {
    if (res.delivery == Delivery::Drop) {
        return false;  // closed by the connection's thread, nothing written
    }
    const bool no_body = res.status == 204 || res.status == 304;
    std::string head =
        "HTTP/1.1 " + std::to_string(res.status) + " " + status_reason(res.status) + "\r\n";
    for (const auto& [k, v] : res.headers) {
        head.append(k).append(": ").append(v).append("\r\n");
    }
    if (!no_body) {
        head += "Content-Length: " + std::to_string(res.body.size()) + "\r\n";
    }
    const bool close_after = !keep_alive || res.delivery == Delivery::Truncate;
    head += close_after ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n";
    if (res.delivery == Delivery::Truncate) {
        send_all(fd, head);
        send_all(fd, res.body.data(), res.body.size() / 2);
        return false;
    }
    if (!no_body) {
        head += res.body;
    }
    if (!send_all(fd, head)) {
        return false;
    }
    if (close_after) {
        ::shutdown(fd, SHUT_WR);
        return false;
    }
    return true;
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
        case 431:
            return "Request Header Fields Too Large";
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
        if (lower(k) == lower(name)) {
            return v;
        }
    }
    return {};
}

HttpServer::HttpServer(HttpHandler handler) : m_handler(std::move(handler)) {}

HttpServer::~HttpServer() {
    stop();
}

bool HttpServer::listen(const std::string& host, std::uint16_t port, std::string& error) {
    m_listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (m_listen_fd < 0) {
        error = std::string("socket: ") + std::strerror(errno);
        return false;
    }
    int one = 1;
    ::setsockopt(m_listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
        error = "not an IPv4 address: " + host;
        return false;
    }
    if (::bind(m_listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        error = "bind " + host + ":" + std::to_string(port) + ": " + std::strerror(errno);
        return false;
    }
    if (::listen(m_listen_fd, 512) != 0) {
        error = std::string("listen: ") + std::strerror(errno);
        return false;
    }
    socklen_t len = sizeof addr;
    ::getsockname(m_listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
    m_port = ntohs(addr.sin_port);
    if (::pipe2(m_wake_pipe, O_CLOEXEC) != 0) {
        error = std::string("pipe: ") + std::strerror(errno);
        return false;
    }
    return true;
}

void HttpServer::start() {
    std::lock_guard lock(m_mu);
    ++m_live_threads;
    std::thread([this] {
        accept_loop();
        std::lock_guard l(m_mu);
        --m_live_threads;
        m_cv.notify_all();
    }).detach();
}

void HttpServer::stop() {
    if (m_stopping.exchange(true)) {
        return;
    }
    if (m_wake_pipe[1] >= 0) {
        const char c = 'x';
        [[maybe_unused]] const auto n = ::write(m_wake_pipe[1], &c, 1);
    }
    {
        std::unique_lock lock(m_mu);
        // Idle connections go now; busy ones finish their answer (marked
        // Connection: close) and end on their own.
        for (const auto& [fd, busy] : m_open_fds) {
            if (!busy) {
                ::shutdown(fd, SHUT_RDWR);
            }
        }
        m_cv.wait(lock, [this] { return m_live_threads == 0; });
    }
    if (m_listen_fd >= 0) {
        ::close(m_listen_fd);
    }
    if (m_wake_pipe[0] >= 0) {
        ::close(m_wake_pipe[0]);
    }
    if (m_wake_pipe[1] >= 0) {
        ::close(m_wake_pipe[1]);
    }
    m_listen_fd = -1;
    m_wake_pipe[0] = m_wake_pipe[1] = -1;
}

void HttpServer::set_busy(int fd, bool busy) {
    std::lock_guard lock(m_mu);
    m_open_fds[fd] = busy;
    // A connection that turns idle while stopping is closed at once.
    if (!busy && m_stopping.load()) {
        ::shutdown(fd, SHUT_RD);
    }
}

void HttpServer::accept_loop() {
    while (!m_stopping.load()) {
        pollfd fds[2] = {{m_listen_fd, POLLIN, 0}, {m_wake_pipe[0], POLLIN, 0}};
        const int r = ::poll(fds, 2, -1);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return;
        }
        if (m_stopping.load() || (fds[1].revents & POLLIN) != 0) {
            return;
        }
        if ((fds[0].revents & POLLIN) == 0) {
            continue;
        }
        const int fd = ::accept4(m_listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            continue;
        }
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        std::lock_guard lock(m_mu);
        if (m_stopping.load()) {
            ::close(fd);
            return;
        }
        m_open_fds[fd] = false;
        ++m_live_threads;
        std::thread([this, fd] {
            serve(fd);
            std::lock_guard l(m_mu);
            m_open_fds.erase(fd);
            ::close(fd);
            --m_live_threads;
            m_cv.notify_all();
        }).detach();
    }
}

void HttpServer::serve(int fd) {
    Reader in(fd, m_stopping);
    for (;;) {
        HttpRequest req;
        bool keep_alive = true;
        if (const int status = read_request(in, req, keep_alive); status != 0) {
            if (status > 0) {
                send_all(fd, simple_error(status));
            }
            return;
        }
        set_busy(fd, true);
        HttpResponse res;
        try {
            res = m_handler(req);
        } catch (const std::exception&) {
            res = HttpResponse{};
            res.status = 500;
            res.set_header("Content-Type", "text/plain");
            res.body = "internal error in the emulator\n";
        }
        struct Idle {
            HttpServer* server;
            int fd;
            Idle(HttpServer* s, int f) : server(s), fd(f) {}
            Idle(const Idle&) = delete;
            Idle& operator=(const Idle&) = delete;
            Idle(Idle&&) = delete;
            Idle& operator=(Idle&&) = delete;
            ~Idle() { server->set_busy(fd, false); }
        } idle{this, fd};
        if (!write_answer(fd, res, keep_alive && !m_stopping.load())) {
            return;
        }
    }
}

}  // namespace emu
