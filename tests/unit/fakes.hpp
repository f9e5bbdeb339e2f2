// Test doubles shared by the unit tests: a scripted, recording HttpTransport
// and a Clock whose time moves only when something sleeps.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "xbranch/clock.hpp"
#include "xbranch/error.hpp"
#include "xbranch/http.hpp"

namespace xbranch::test {

using ms = std::chrono::milliseconds;

class FakeClock final : public Clock {
  public:
    TimePoint now() const override { return m_now; }
    // Time moves by d at once; on_sleep (if set) runs first and may cancel the token.
    bool sleep_for(Duration d, const CancelToken* cancel = nullptr) override {
        if (on_sleep) {
            on_sleep(d);
        }
        if (cancel != nullptr && cancel->cancelled()) {
            return false;
        }
        sleeps.push_back(d);
        m_now += d;
        return true;
    }
    // Time since the clock was made.
    ms elapsed() const { return std::chrono::duration_cast<ms>(m_now - TimePoint{}); }
    void advance(ms d) { m_now += d; }

    std::vector<ms> sleeps;
    std::function<void(ms)> on_sleep;

  private:
    TimePoint m_now{};
};

struct Recorded {
    HttpRequest request;
    ms at{0};  // fake time when it was sent
    CallLimits limits;
};

// Answers from `script` first (in order); when that is empty, from `handler`.
// With neither, the test fails and a Dropped error is answered.
class FakeTransport final : public HttpTransport {
  public:
    explicit FakeTransport(const FakeClock* clock = nullptr) : m_clock(clock) {}

    HttpOutcome send(const HttpRequest& request, const CallLimits& limits) override {
        requests.push_back({request, m_clock != nullptr ? m_clock->elapsed() : ms{0}, limits});
        if (!script.empty()) {
            HttpOutcome o = script.front();
            script.pop_front();
            return o;
        }
        if (handler) {
            return handler(request);
        }
        ADD_FAILURE() << "unexpected request " << request.method << " " << request.url;
        HttpOutcome o;
        o.error = TransportError{TransportError::Kind::Dropped, "no script", true};
        return o;
    }

    // Records each batch (its size and in-flight bound), then sends them
    // one after another as the interface's default does.
    std::vector<HttpOutcome> send_many(const std::vector<HttpRequest>& many,
                                       const CallLimits& limits,
                                       std::size_t max_in_flight) override {
        batches.emplace_back(many.size(), max_in_flight);
        return HttpTransport::send_many(many, limits, max_in_flight);
    }

    // "GET /branches", with the path after the project part of the URL.
    std::vector<std::string> calls(const std::string& project_url) const {
        std::vector<std::string> out;
        for (const auto& r : requests) {
            std::string path = r.request.url;
            if (path.rfind(project_url, 0) == 0) {
                path = path.substr(project_url.size());
            }
            out.push_back(r.request.method + " " + path);
        }
        return out;
    }
    int count(const std::string& method) const {
        int n = 0;
        for (const auto& r : requests) {
            n += r.request.method == method ? 1 : 0;
        }
        return n;
    }

    std::deque<HttpOutcome> script;
    std::function<HttpOutcome(const HttpRequest&)> handler;
    std::vector<Recorded> requests;
    std::vector<std::pair<std::size_t, std::size_t>> batches;  // send_many: size, in flight

  private:
    const FakeClock* m_clock;
};

inline HttpOutcome answer(long status, std::string body = {},
                          std::map<std::string, std::string> headers = {}) {
    HttpOutcome o;
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    if (r.headers.find("x-request-id") == r.headers.end()) {
        r.headers["x-request-id"] = "req-" + std::to_string(status);
    }
    // What the real transport reads with CURLINFO_RETRY_AFTER (seconds form here).
    if (auto it = r.headers.find("retry-after"); it != r.headers.end()) {
        r.retry_after = ms{std::stoll(it->second) * 1000};
    }
    o.response = std::move(r);
    return o;
}

inline HttpOutcome failure(TransportError::Kind kind, bool maybe_sent,
                           std::string message = "scripted") {
    HttpOutcome o;
    o.error = TransportError{kind, std::move(message), maybe_sent};
    return o;
}
inline HttpOutcome dropped() {
    return failure(TransportError::Kind::Dropped, true, "Empty reply from server");
}
inline HttpOutcome timed_out() {
    return failure(TransportError::Kind::Timeout, true, "Operation timed out");
}
inline HttpOutcome refused() {
    return failure(TransportError::Kind::Connect, false, "Connection refused");
}

// JSON bodies shaped like the OpenAPI schemas (written here, not copied).
inline std::string branch_json(const std::string& id, const std::string& name,
                               const std::string& parent, const std::string& region = "us-east-1") {
    std::string p = parent.empty() ? "null" : "\"" + parent + "\"";
    return R"({"id":")" + id + R"(","name":")" + name + R"(","parentID":)" + p + R"(,"region":")" +
           region +
           R"(","createdAt":"2025-05-01T10:20:30Z","updatedAt":"2025-05-01T10:20:30Z","description":"","publicAccess":false})";
}

inline std::string list_json(const std::vector<std::string>& items) {
    std::string out = R"({"branches":[)";
    for (std::size_t i = 0; i < items.size(); ++i) {
        out += (i ? "," : "") + items[i];
    }
    return out + "]}";
}

inline std::string details_json(const std::string& id, const std::string& name,
                                const std::string& parent, const std::string& status_type,
                                int instances, int ready, const std::string& connection_string = {},
                                const std::string& region = "us-east-1") {
    std::string phase = status_type == "STATUS_TYPE_HEALTHY"      ? "Cluster in healthy state"
                        : status_type == "STATUS_TYPE_HIBERNATED" ? "Cluster hibernated"
                        : status_type == "STATUS_TYPE_FAULT"
                            ? "Unable to create required cluster objects"
                            : "Setting up primary";
    std::string p = parent.empty() ? "null" : "\"" + parent + "\"";
    std::string cs = connection_string.empty() ? "null" : "\"" + connection_string + "\"";
    return R"({"id":")" + id + R"(","name":")" + name + R"(","parentID":)" + p + R"(,"region":")" +
           region +
           R"(","createdAt":"2025-05-01T10:20:30Z","updatedAt":"2025-05-01T10:20:31Z","connectionString":)" +
           cs + R"(,"status":{"statusType":")" + status_type + R"(","status":")" + phase +
           R"(","instanceCount":)" + std::to_string(instances) + R"(,"instanceReadyCount":)" +
           std::to_string(ready) + R"(,"lastUpdated":"2025-05-01T10:20:31Z"}})";
}

// The project the lifecycle-level fake APIs (test_lifecycle, test_usable)
// serve: org1/prj_1 on k_base, root branch "main" with id k_parent, and the
// sandbox branch k_name this run (k_token) makes. `using namespace` it.
namespace fake_project {
inline const std::string k_base = "https://api.example.test";
inline const std::string k_project_url = k_base + "/organizations/org1/projects/prj_1";
inline const std::string k_parent = "a0000000000000000000000001";
inline const std::string k_name = "sb-feat-1a2b3c4d";
inline const std::string k_token = "runtoken01";
inline const std::string k_id = "e80atan1sl5khdkr8pkc33fovk";  // k_name's id
}  // namespace fake_project

// The fixed clock and root branch of the gc tests (test_gc_*).
namespace fake_gc {
inline constexpr std::int64_t k_now = 1746094830;  // 2025-05-01T10:20:30Z
inline const std::string k_root_id = "root0000000000000000000000";
}  // namespace fake_gc

// The element of a fake API's branch table (structs with an `id`) with this
// id, or nullptr.
template <typename B>
B* find_branch(std::vector<B>& branches, const std::string& id) {
    for (auto& b : branches) {
        if (b.id == id) {
            return &b;
        }
    }
    return nullptr;
}

// The API's answer for a branch id it does not know.
inline HttpOutcome branch_not_found(const std::string& id) {
    return answer(404, R"({"id":"x","message":"branch [)" + id + R"(] not found"})");
}

// The xbranch::Error that f throws; a test failure when it throws none.
template <typename F>
Error caught(F f) {
    try {
        f();
    } catch (const Error& e) {
        return e;
    }
    ADD_FAILURE() << "no xbranch::Error thrown";
    return Error(ErrorKind::Internal, "none");
}

}  // namespace xbranch::test
