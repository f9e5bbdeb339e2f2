// The admin API under /_emulator/ (no auth, test use only): the request
// log, branch views, config, fault rules, behaviours, the password lag.
#include "emulator.hpp"

namespace emu {

using nlohmann::json;

namespace {

// The path's segments after /_emulator/.
std::vector<std::string> admin_segments(const std::string& path) {
    std::vector<std::string> segments;
    std::size_t start = std::string("/_emulator/").size();
    while (start <= path.size()) {
        auto slash = path.find('/', start);
        if (slash == std::string::npos) {
            slash = path.size();
        }
        segments.push_back(path.substr(start, slash - start));
        start = slash + 1;
    }
    return segments;
}

// {"behavior": ..., "status"?, "count"?} of behavior and next-behavior.
std::string parse_behavior_body(const json& body, Behavior& b, int& status, long& count) {
    if (!body.contains("behavior") || !body["behavior"].is_string()) {
        return "behavior is required";
    }
    const auto parsed = parse_behavior(body["behavior"].get<std::string>());
    if (!parsed) {
        return "unknown behavior";
    }
    b = *parsed;
    status = 503;
    count = 3;
    if (body.contains("status")) {
        if (!body["status"].is_number_integer()) {
            return "status must be an integer";
        }
        status = body["status"].get<int>();
    }
    if (body.contains("count")) {
        if (!body["count"].is_number_integer()) {
            return "count must be an integer";
        }
        count = body["count"].get<long>();
    }
    return {};
}

// A non-negative integer field, at most max.
std::optional<long> non_negative(const json& body, const char* key, long max) {
    const json& v = body[key];
    if (!v.is_number_integer() || v.get<long>() < 0 || v.get<long>() > max) {
        return std::nullopt;
    }
    return v.get<long>();
}

}  // namespace

const std::vector<Emulator::Route>& Emulator::admin_routes() {
    // Paths under /_emulator.
    static const std::vector<Route> k_routes = {
        {"GET", {"health"}, &Emulator::admin_health},
        {"GET", {"requests"}, &Emulator::admin_requests},
        {"DELETE", {"requests"}, &Emulator::admin_clear_requests},
        {"GET", {"branches"}, &Emulator::admin_branches},
        {"GET", {"config"}, &Emulator::admin_config},
        {"POST", {"config"}, &Emulator::admin_set_config},
        {"GET", {"faults"}, &Emulator::admin_faults},
        {"POST", {"faults"}, &Emulator::admin_set_faults},
        {"POST", {"next-behavior"}, &Emulator::admin_next_behavior},
        {"POST", {"branches", "{id}", "behavior"}, &Emulator::admin_behavior},
        {"POST", {"branches", "{id}", "mark-ready"}, &Emulator::admin_mark_ready},
        {"POST", {"branches", "{id}", "password-lag"}, &Emulator::admin_password_lag},
    };
    return k_routes;
}

HttpResponse Emulator::handle_admin(const HttpRequest& req) {
    HttpResponse res;
    json body = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
    const bool bad_body =
        (req.method == "POST" || req.method == "PUT") && (body.is_discarded() || !body.is_object());
    // Built in place, never assigned: clang-tidy reads the move assignment
    // of nlohmann::json (by-value operator=) as throwing.
    Answer a = bad_body ? Answer{400, {{"message", "body must be a JSON object"}}, {}}
                        : dispatch(admin_routes(), req, admin_segments(req.path), std::move(body));
    if (!bad_body && a.status == 404 && a.body.value("message", "") == "not found") {
        a.body["message"] = "no such admin endpoint";
    }
    res.status = a.status;
    res.set_header("Content-Type", "application/json");
    res.body = dump_json(a.body);
    return res;
}

Emulator::Answer Emulator::admin_health(const Call& /*c*/) {
    return {200, {{"ok", true}}, {}};
}

Emulator::Answer Emulator::admin_requests(const Call& /*c*/) {
    std::lock_guard lock(m_mu);
    return {200, {{"requests", m_requests}}, {}};
}

Emulator::Answer Emulator::admin_clear_requests(const Call& /*c*/) {
    std::lock_guard lock(m_mu);
    m_requests = json::array();
    return {200, {{"ok", true}}, {}};
}

Emulator::Answer Emulator::admin_branches(const Call& /*c*/) {
    std::lock_guard lock(m_mu);
    const auto now = Clock::now();
    json items = json::array();
    for (const auto& b : m_branches) {
        items.push_back(json_of(*b, BranchShape::Admin, now));
    }
    return {200, {{"branches", items}}, {}};
}

json Emulator::config_json() const {
    return {{"hibernatedMs", m_opts.hibernated_ms},
            {"transientMs", m_opts.transient_ms},
            {"passwordLagMs", m_opts.password_lag_ms},
            {"credentialsShape", m_opts.credentials_shape},
            {"passwordStyle", m_opts.password_style},
            {"maxBranches", m_opts.max_branches},
            {"maxBranchesPerHour", m_opts.max_branches_per_hour},
            {"publicAccess", m_opts.public_access},
            {"rateLimit", m_faults.rate_limit()},
            {"latencyMs", m_opts.latency_ms},
            {"faultRate", m_faults.fault_rate()},
            {"seed", m_faults.seed()},
            {"org", m_opts.org},
            {"project", m_opts.project},
            {"pgHost", m_pg_host},
            {"pgPort", m_pg_port},
            {"memoryMode", !m_pg}};
}

Emulator::Answer Emulator::admin_config(const Call& /*c*/) {
    std::lock_guard lock(m_mu);
    return {200, config_json(), {}};
}

Emulator::Answer Emulator::admin_set_config(const Call& c) {
    const json& body = c.body;
    auto bad = [](const std::string& msg) { return Answer{400, {{"message", msg}}, {}}; };
    std::lock_guard lock(m_mu);
    // Checked in full first, so a bad field changes nothing.
    Options next = m_opts;
    const struct {
        const char* key;
        long* target;
        long min;
        long max;
    } longs[] = {{"hibernatedMs", &next.hibernated_ms, 0, k_max_ms},
                 {"transientMs", &next.transient_ms, 0, k_max_ms},
                 {"passwordLagMs", &next.password_lag_ms, 0, k_max_ms},
                 {"latencyMs", &next.latency_ms, 0, k_max_ms},
                 {"maxBranches", &next.max_branches, 1, k_max_count},
                 {"maxBranchesPerHour", &next.max_branches_per_hour, 1, k_max_count}};
    for (const auto& f : longs) {
        if (!body.contains(f.key)) {
            continue;
        }
        const auto v = non_negative(body, f.key, f.max);
        if (!v || *v < f.min) {
            return bad(std::string(f.key) + ": an integer from " + std::to_string(f.min) + " to " +
                       std::to_string(f.max));
        }
        *f.target = *v;
    }
    if (body.contains("rateLimit") && !body["rateLimit"].is_null()) {
        const auto v = non_negative(body, "rateLimit", k_max_count);
        if (!v) {
            return bad("rateLimit: a non-negative integer or null");
        }
        next.rate_limit = *v;
    } else if (body.contains("rateLimit")) {
        next.rate_limit = 0;
    }
    if (body.contains("faultRate")) {
        if (!body["faultRate"].is_number() || body["faultRate"].get<double>() < 0 ||
            body["faultRate"].get<double>() > 1) {
            return bad("faultRate: a number from 0 to 1");
        }
        next.fault_rate = body["faultRate"].get<double>();
    }
    if (body.contains("seed")) {
        if (!body["seed"].is_number_unsigned()) {
            return bad("seed: a non-negative integer");
        }
        next.seed = body["seed"].get<std::uint64_t>();
    }
    if (body.contains("publicAccess")) {
        if (!body["publicAccess"].is_boolean()) {
            return bad("publicAccess: true or false");
        }
        next.public_access = body["publicAccess"].get<bool>();
    }
    const struct {
        const char* key;
        std::string* target;
        const char* a;
        const char* b;
    } choices[] = {{"credentialsShape", &next.credentials_shape, "hosted", "core"},
                   {"passwordStyle", &next.password_style, "plain", "special"}};
    for (const auto& f : choices) {
        if (!body.contains(f.key)) {
            continue;
        }
        const json& v = body[f.key];
        if (!v.is_string() || (v.get<std::string>() != f.a && v.get<std::string>() != f.b)) {
            return bad(std::string(f.key) + ": " + f.a + " or " + f.b);
        }
        *f.target = v.get<std::string>();
    }
    if (body.contains("rateLimit")) {
        m_faults.set_rate_limit(next.rate_limit);
    }
    if (body.contains("faultRate")) {
        m_faults.set_fault_rate(next.fault_rate);
    }
    if (body.contains("seed")) {
        m_faults.set_seed(next.seed);
    }
    m_opts = std::move(next);
    return {200, config_json(), {}};
}

Emulator::Answer Emulator::admin_faults(const Call& /*c*/) {
    return {200, {{"faults", m_faults.rules_json()}}, {}};
}

Emulator::Answer Emulator::admin_set_faults(const Call& c) {
    if (auto e = m_faults.set_rules(c.body); !e.empty()) {
        return {400, {{"message", e}}, {}};
    }
    return {200, {{"faults", m_faults.rules_json()}}, {}};
}

Emulator::Answer Emulator::admin_next_behavior(const Call& c) {
    Behavior b{};
    int status = 0;
    long count = 0;
    if (auto e = parse_behavior_body(c.body, b, status, count); !e.empty()) {
        return {400, {{"message", e}}, {}};
    }
    std::lock_guard lock(m_mu);
    m_next_behavior = b;
    m_next_no_credentials_status = status;
    m_next_no_credentials_count = count;
    return {200, {{"ok", true}}, {}};
}

Emulator::Answer Emulator::admin_behavior(const Call& c) {
    Behavior be{};
    int status = 0;
    long count = 0;
    std::lock_guard lock(m_mu);
    Branch* b = find_active(c.id());
    if (b == nullptr) {
        return {404, {{"message", "branch [" + c.id() + "] not found"}}, {}};
    }
    if (auto e = parse_behavior_body(c.body, be, status, count); !e.empty()) {
        return {400, {{"message", e}}, {}};
    }
    b->behavior = be;
    b->no_credentials_status = status;
    b->no_credentials_left = count;
    b->forced_ready = false;
    b->hibernating = false;
    b->woken.reset();
    return {200, json_of(*b, BranchShape::Admin, Clock::now()), {}};
}

Emulator::Answer Emulator::admin_mark_ready(const Call& c) {
    const std::string& id = c.id();
    std::unique_lock lock(m_mu);
    if (find_active(id) == nullptr) {
        return {404, {{"message", "branch [" + id + "] not found"}}, {}};
    }
    m_cv.wait_for(lock, std::chrono::seconds(60), [this, &id] {
        const Branch* x = find_active(id);
        return x == nullptr || x->db_state != "creating";
    });
    Branch* b = find_active(id);
    if (b == nullptr) {
        return {404, {{"message", "branch [" + id + "] not found"}}, {}};
    }
    b->forced_ready = true;
    b->hibernating = false;
    b->behavior = Behavior::Normal;
    observe(*b, Clock::now());
    return {200, json_of(*b, BranchShape::Admin, Clock::now()), {}};
}

// {"ms": N}: the branch's served password works N ms after HEALTHY. On a
// branch whose password already works, it stops working now (another
// password is set) and works again N ms from now, or from HEALTHY.
Emulator::Answer Emulator::admin_password_lag(const Call& c) {
    const std::string& id = c.id();
    if (!c.body.contains("ms") || !non_negative(c.body, "ms", k_max_ms)) {
        return {400, {{"message", "ms: an integer from 0 to " + std::to_string(k_max_ms)}}, {}};
    }
    const long ms = c.body["ms"].get<long>();
    std::string role;
    std::string other;
    {
        std::lock_guard lock(m_mu);
        Branch* b = find_active(id);
        if (b == nullptr) {
            return {404, {{"message", "branch [" + id + "] not found"}}, {}};
        }
        b->password_lag_ms = ms;
        if (!m_pg || !b->password_live || ms == 0 || b->db_state != "ready") {
            return {200, json_of(*b, BranchShape::Admin, Clock::now()), {}};
        }
        role = b->role;
        other = new_password() + "lag";
    }
    // The ticker sets the served password again once it is due.
    if (auto e = m_pg->set_password(role, other); !e.empty()) {
        return {500, {{"message", "setting another password: " + e}}, {}};
    }
    std::lock_guard lock(m_mu);
    Branch* b = find_active(id);
    if (b == nullptr) {
        return {404, {{"message", "branch [" + id + "] not found"}}, {}};
    }
    const auto now = Clock::now();
    b->password_live = false;
    b->healthy_since.reset();
    observe(*b, now);
    return {200, json_of(*b, BranchShape::Admin, now), {}};
}

}  // namespace emu
