#include "faults.hpp"

#include <algorithm>
#include <thread>

#include "branch_json.hpp"

namespace emu {

using nlohmann::json;

namespace {

constexpr std::uint64_t k_rate_seed_mix = 0x9e3779b97f4a7c15ULL;

const std::vector<std::string> k_fault_kinds = {"status", "drop_before",  "drop_after",
                                                "delay",  "malformed",    "truncated",
                                                "html",   "missing_field"};

std::string html_page(int status) {
    const std::string title = std::to_string(status) + " " + status_reason(status);
    return "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" + title +
           "</h1></center>\r\n</body>\r\n</html>\r\n";
}

std::string branch_id_in(const std::string& path) {
    static const std::regex k_branch_path("/branches/([^/]+)");
    std::smatch m;
    return std::regex_search(path, m, k_branch_path) ? m[1].str() : std::string("unknown");
}

// The message a real server gives for the status; PATCH has two of its own
// (shared Xata notes, "More facts").
std::string error_message_for(int status, const std::string& method) {
    if (method == "PATCH" && status == 409) {
        return "branch [ID] was modified concurrently, please retry";
    }
    if (method == "PATCH" && status == 403) {
        return "Branch [ID] update is temporarily unavailable";
    }
    switch (status) {
        case 429:
            return "too many requests";
        case 500:
            return "internal server error";
        case 502:
            return "bad gateway";
        case 503:
            return "service unavailable";
        case 504:
            return "gateway timeout";
        default:
            return status_reason(status);
    }
}

FaultRule parse_rule(const json& r) {
    FaultRule f;
    f.method = r.value("method", "");
    f.path_text = r.value("path", "");
    f.path = std::regex(f.path_text, std::regex::ECMAScript);
    f.kind = r.value("kind", "status");
    if (std::find(k_fault_kinds.begin(), k_fault_kinds.end(), f.kind) == k_fault_kinds.end()) {
        throw std::invalid_argument("unknown fault kind [" + f.kind + "]");
    }
    f.status = r.value("status", 0);
    f.message = r.value("message", "");
    if (r.contains("retryAfter")) {
        f.retry_after = r["retryAfter"].is_string() ? r["retryAfter"].get<std::string>()
                                                    : std::to_string(r["retryAfter"].get<long>());
    }
    f.delay_ms = r.value("delayMs", 0L);
    f.times = r.value("times", 1L);
    f.after = r.value("after", 0L);
    f.field = r.value("field", "");
    if (f.delay_ms < 0 || f.times < 0 || f.after < 0) {
        throw std::invalid_argument("delayMs, times and after are >= 0");
    }
    return f;
}

}  // namespace

bool FaultDecision::replaces_call() const {
    if (rate_limited) {
        return true;
    }
    return rule && (rule->kind == "status" || rule->kind == "html" || rule->kind == "drop_before");
}

std::string FaultDecision::name() const {
    if (rate_limited) {
        return "rate_limit";
    }
    return rule ? rule->kind : std::string();
}

FaultLayer::FaultLayer(std::uint64_t seed, double fault_rate, long rate_limit)
    : m_seed(seed),
      m_fault_rate(fault_rate),
      m_rate_limit(rate_limit),
      m_fault_rng(seed),
      m_rate_rng(seed ^ k_rate_seed_mix) {}

std::optional<FaultRule> FaultLayer::random_fault() {
    // One draw (and one pick) per call whatever happens, so the sequence
    // depends on the seed and the call order only.
    const double u = m_fault_rng.uniform();
    const auto pick = m_fault_rng.below(8);
    if (u >= m_fault_rate) {
        return std::nullopt;
    }
    FaultRule r;
    r.path_text = "(random)";
    static const struct {
        const char* kind;
        int status;
        const char* retry_after;
    } k_table[] = {{"status", 500, ""},  {"html", 502, ""},      {"status", 503, "1"},
                   {"status", 504, ""},  {"drop_before", 0, ""}, {"drop_after", 0, ""},
                   {"truncated", 0, ""}, {"malformed", 0, ""}};
    r.kind = k_table[pick].kind;
    r.status = k_table[pick].status;
    r.retry_after = k_table[pick].retry_after;
    return r;
}

FaultDecision FaultLayer::decide(const std::string& method, const std::string& path,
                                 std::chrono::steady_clock::time_point now) {
    std::lock_guard lock(m_mu);
    FaultDecision d;
    if (m_rate_limit > 0) {
        while (!m_window.empty() && now - m_window.front() >= std::chrono::seconds(1)) {
            m_window.pop_front();
        }
        if (static_cast<long>(m_window.size()) >= m_rate_limit) {
            d.rate_limited = true;
            d.rate_limit_retry_after = m_rate_rng.uniform() < 0.5;
            return d;
        }
        m_window.push_back(now);
    }
    for (auto& r : m_rules) {
        if ((!r.method.empty() && r.method != method) || !std::regex_search(path, r.path)) {
            continue;
        }
        ++r.seen;
        if (d.rule || r.seen <= r.after || (r.times > 0 && r.fired >= r.times)) {
            continue;
        }
        ++r.fired;
        d.rule = r;
    }
    if (m_fault_rate > 0) {
        auto random = random_fault();
        if (!d.rule) {
            d.rule = std::move(random);
        }
    }
    return d;
}

void FaultLayer::answer_instead(const FaultDecision& d, const std::string& method,
                                const std::string& path, const std::string& request_id,
                                HttpResponse& res) {
    if (d.rate_limited) {
        // The gateway's own answer: plain text, Retry-After on some.
        res.status = 429;
        res.set_header("Content-Type", "text/plain; charset=utf-8");
        if (d.rate_limit_retry_after) {
            res.set_header("Retry-After", "1");
        }
        res.body = "Too Many Requests: rate limit exceeded\n";
        return;
    }
    const FaultRule& f = *d.rule;
    if (f.kind == "drop_before") {
        res.delivery = Delivery::Drop;
        return;
    }
    if (f.kind == "html") {
        res.status = f.status > 0 ? f.status : 502;
        res.set_header("Content-Type", "text/html");
        res.body = html_page(res.status);
    } else {
        res.status = f.status > 0 ? f.status : 503;
        std::string message = f.message.empty() ? error_message_for(res.status, method) : f.message;
        if (const auto at = message.find("[ID]"); at != std::string::npos) {
            message.replace(at, 4, "[" + branch_id_in(path) + "]");
        }
        res.set_header("Content-Type", "application/json");
        res.body = dump_json({{"id", request_id}, {"message", message}});
    }
    if (!f.retry_after.empty()) {
        res.set_header("Retry-After", f.retry_after);
    }
}

void FaultLayer::spoil(const FaultRule& rule, const std::string& request_id, json body,
                       HttpResponse& res) {
    const std::string& k = rule.kind;
    if (k == "drop_after") {
        res.delivery = Delivery::Drop;
    } else if (k == "delay") {
        std::this_thread::sleep_for(std::chrono::milliseconds(rule.delay_ms));
    } else if (k == "malformed") {
        if (res.status == 204) {
            res.status = 200;
        }
        res.set_header("Content-Type", "application/json");
        res.body = res.body.substr(0, res.body.size() / 2) + "\x01<}{";
    } else if (k == "truncated") {
        if (res.status == 204) {
            res.status = 200;
            res.body = dump_json({{"id", request_id}});
            res.set_header("Content-Type", "application/json");
        }
        res.delivery = Delivery::Truncate;
    } else if (k == "missing_field" && body.is_object() && res.status < 300) {
        std::string field = rule.field;
        if (field.empty()) {
            if (body.contains("branches")) {
                field = "branches";
            } else if (body.contains("status") && body.contains("configuration")) {
                field = "status";
            } else if (body.contains("password")) {
                field = "password";
            } else {
                field = "id";
            }
        }
        body.erase(field);
        res.body = dump_json(body);
    }
}

std::string FaultLayer::set_rules(const json& body) {
    if (!body.contains("faults") || !body["faults"].is_array()) {
        return "expected {\"faults\":[...]}";
    }
    std::vector<FaultRule> rules;
    try {
        for (const auto& r : body["faults"]) {
            rules.push_back(parse_rule(r));
        }
    } catch (const std::exception& e) {
        return std::string("bad fault rule: ") + e.what();
    }
    std::lock_guard lock(m_mu);
    m_rules = std::move(rules);
    return {};
}

json FaultLayer::rules_json() const {
    std::lock_guard lock(m_mu);
    json out = json::array();
    for (const auto& f : m_rules) {
        out.push_back({{"method", f.method},
                       {"path", f.path_text},
                       {"kind", f.kind},
                       {"status", f.status},
                       {"message", f.message},
                       {"retryAfter", f.retry_after},
                       {"delayMs", f.delay_ms},
                       {"times", f.times},
                       {"after", f.after},
                       {"field", f.field},
                       {"seen", f.seen},
                       {"fired", f.fired}});
    }
    return out;
}

void FaultLayer::set_fault_rate(double rate) {
    std::lock_guard lock(m_mu);
    m_fault_rate = rate;
}

void FaultLayer::set_rate_limit(long per_second) {
    std::lock_guard lock(m_mu);
    m_rate_limit = per_second;
    m_window.clear();
}

void FaultLayer::set_seed(std::uint64_t seed) {
    std::lock_guard lock(m_mu);
    m_seed = seed;
    m_fault_rng = Rng(seed);
    m_rate_rng = Rng(seed ^ k_rate_seed_mix);
}

double FaultLayer::fault_rate() const {
    std::lock_guard lock(m_mu);
    return m_fault_rate;
}

long FaultLayer::rate_limit() const {
    std::lock_guard lock(m_mu);
    return m_rate_limit;
}

std::uint64_t FaultLayer::seed() const {
    std::lock_guard lock(m_mu);
    return m_seed;
}

}  // namespace emu
