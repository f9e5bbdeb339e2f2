#include "emulator.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <thread>

namespace emu {

using nlohmann::json;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

namespace {

constexpr const char* k_healthy = "STATUS_TYPE_HEALTHY";
constexpr const char* k_hibernated = "STATUS_TYPE_HIBERNATED";
constexpr auto k_tick = milliseconds(10);
constexpr std::size_t k_max_description = 50;

std::vector<std::string> split_path(const std::string& path) {
    std::vector<std::string> out;
    if (path.empty() || path[0] != '/') {
        return out;
    }
    std::size_t start = 1;
    for (;;) {
        const auto slash = path.find('/', start);
        out.push_back(
            path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
        if (slash == std::string::npos) {
            break;
        }
        start = slash + 1;
    }
    return out;
}

// BranchCreationDetails / BranchUpdateDetails: maxLength 50 and this pattern.
bool valid_description(const std::string& d) {
    static const std::regex k_description_pattern("^[a-zA-Z0-9]+[a-zA-Z0-9- ]*$");
    return !d.empty() && d.size() <= k_max_description &&
           std::regex_match(d, k_description_pattern);
}

// ScaleToZeroConfiguration: enabled (boolean, required), and
// inactivityPeriodMinutes an integer when present.
bool valid_scale_to_zero(const json& s) {
    return s.is_object() && s.contains("enabled") && s["enabled"].is_boolean() &&
           (!s.contains("inactivityPeriodMinutes") ||
            s["inactivityPeriodMinutes"].is_number_integer());
}

}  // namespace

const char* behavior_name(Behavior b) {
    switch (b) {
        case Behavior::Normal:
            return "normal";
        case Behavior::Fault:
            return "fault";
        case Behavior::NeverReady:
            return "never_ready";
        case Behavior::StayHibernated:
            return "stay_hibernated";
        case Behavior::NoCredentials:
            return "no_credentials";
    }
    return "normal";
}

std::optional<Behavior> parse_behavior(const std::string& s) {
    for (const Behavior b : {Behavior::Normal, Behavior::Fault, Behavior::NeverReady,
                             Behavior::StayHibernated, Behavior::NoCredentials}) {
        if (s == behavior_name(b)) {
            return b;
        }
    }
    return std::nullopt;
}

Emulator::Emulator(Options opts)
    : m_opts(std::move(opts)),
      m_faults(m_opts.seed, m_opts.fault_rate, m_opts.rate_limit),
      m_id_rng(std::random_device{}() ^
               static_cast<std::uint64_t>(Clock::now().time_since_epoch().count())),
      m_project_created(std::chrono::system_clock::now()) {}

Emulator::~Emulator() {
    shutdown();
}

void Emulator::log_line(const std::string& line) const {
    if (m_opts.quiet) {
        return;
    }
    std::cerr << line + "\n" << std::flush;
}

bool Emulator::init(std::string& error) {
    if (!m_opts.seed_sql_file.empty()) {
        std::ifstream in(m_opts.seed_sql_file);
        if (!in) {
            error = "cannot read --seed-sql " + m_opts.seed_sql_file;
            return false;
        }
        std::stringstream ss;
        ss << in.rdbuf();
        m_seed_sql = ss.str();
    }
    if (m_opts.db_prefix.size() + 1 + 26 > 60) {
        error = "--db-prefix is too long (database names have at most 63 bytes)";
        return false;
    }
    if (!m_opts.pg.empty()) {
        m_pg = std::make_unique<PgBackend>(m_opts.pg);
        std::string host;
        int port = 0;
        if (!m_pg->probe(host, port, error)) {
            return false;
        }
        m_pg_host = m_opts.pg_public_host.empty() ? (host.empty() ? "127.0.0.1" : host)
                                                  : m_opts.pg_public_host;
        m_pg_port = m_opts.pg_public_port > 0 ? m_opts.pg_public_port : port;
    } else {
        m_pg_host = "127.0.0.1";
        m_pg_port = 1;
    }

    auto b = std::make_unique<Branch>();
    b->id = new_branch_id();
    b->name = m_opts.root_branch;
    b->root = true;
    b->public_access = m_opts.public_access;
    b->created_at = b->updated_at = std::chrono::system_clock::now();
    b->born = Clock::now();
    b->database = db_name_for(b->name, b->id);
    b->role = b->database;
    b->password = new_password();
    if (m_pg) {
        if (auto e = m_pg->create_root(b->database, b->role, b->password, m_seed_sql); !e.empty()) {
            error = "creating the root branch database " + b->database + ": " + e;
            m_pg->drop_branch(b->database, b->role);
            return false;
        }
        b->db_state = "ready";
        m_ticker = std::thread([this] { tick_passwords(); });
    }
    std::lock_guard lock(m_mu);
    m_branches.push_back(std::move(b));
    return true;
}

std::string Emulator::new_branch_id() {
    for (;;) {
        std::string id = base32hex_id(m_id_rng, 26, true);
        const bool taken = std::any_of(m_branches.begin(), m_branches.end(),
                                       [&id](const auto& b) { return b->id == id; });
        if (!taken) {
            return id;
        }
    }
}

std::string Emulator::new_password() {
    return make_password(m_id_rng, m_opts.password_style == "special");
}

std::string Emulator::request_id() {
    std::lock_guard lock(m_mu);
    return "req_" + base32hex_id(m_id_rng, 22, false);
}

std::string Emulator::db_name_for(const std::string& name, const std::string& id) const {
    std::string clean;
    for (const char ch : name) {
        const auto c = static_cast<unsigned char>(std::tolower(static_cast<unsigned char>(ch)));
        const bool keep = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        clean.push_back(keep ? static_cast<char>(c) : '_');
    }
    const std::size_t room = 63 - m_opts.db_prefix.size() - 1 - id.size();
    if (clean.size() > room) {
        clean.resize(room);
    }
    return m_opts.db_prefix + clean + "_" + id;
}

std::string Emulator::connection_string(const Branch& b, bool core_shape) const {
    const std::string auth = percent_encode(b.role) + ":" + percent_encode(b.password) + "@";
    if (core_shape) {
        return "postgresql://" + auth + m_pg_host + ":" + std::to_string(m_pg_port) + "/" +
               b.database + "?sslmode=disable";
    }
    // The hosted service's describe answer: deprecated, points nowhere.
    return "postgresql://" + auth + b.id + "-deprecated.us-east-1.xata.invalid:5432/xata" +
           "?sslmode=require";
}

Branch* Emulator::find_active(const std::string& id) {
    for (auto& b : m_branches) {
        if (b->id == id && !b->deleted_at) {
            return b.get();
        }
    }
    return nullptr;
}

Branch* Emulator::find_any(const std::string& id) {
    for (auto& b : m_branches) {
        if (b->id == id) {
            return b.get();
        }
    }
    return nullptr;
}

StatusView Emulator::status_of(const Branch& b, Clock::time_point now) const {
    // Not const: each return moves its view out.
    StatusView hibernated{k_hibernated, "Cluster hibernated", 0, 0};
    StatusView transient{"STATUS_TYPE_TRANSIENT", "Setting up primary", 1, 0};
    StatusView healthy{k_healthy, "Cluster in healthy state", 1, 1};
    StatusView fault{"STATUS_TYPE_FAULT", "Unable to create required cluster objects", 1, 0};
    if (b.db_state == "failed") {
        return fault;
    }
    if (b.forced_ready && b.db_state != "creating") {
        return healthy;
    }
    if (b.hibernating) {
        return hibernated;
    }
    const auto since = b.woken ? *b.woken : b.born;
    const long early = b.woken ? 0 : b.hibernated_ms;
    const long elapsed = static_cast<long>(duration_cast<milliseconds>(now - since).count());
    if (elapsed < early || (b.behavior == Behavior::StayHibernated && !b.woken)) {
        return hibernated;
    }
    if (elapsed < early + b.transient_ms) {
        return transient;
    }
    if (b.behavior == Behavior::Fault) {
        return fault;
    }
    if (b.behavior == Behavior::NeverReady || b.db_state == "creating") {
        return transient;
    }
    return healthy;
}

StatusView Emulator::observe(Branch& b, Clock::time_point now) {
    StatusView s = status_of(b, now);
    if (s.status_type == k_healthy && !b.healthy_since) {
        b.healthy_since = now;
    }
    return s;
}

json Emulator::json_of(const Branch& b, BranchShape shape, Clock::time_point now) const {
    const bool core = m_opts.credentials_shape == "core";
    json cs = nullptr;
    if (shape == BranchShape::Described) {
        cs = connection_string(b, core);
    } else if (shape == BranchShape::Created && core) {
        cs = connection_string(b, true);
    }
    return branch_json(b, shape, status_of(b, now), cs);
}

// ------------------------------------------------------------- route tables

const std::vector<Emulator::Route>& Emulator::api_routes() {
    // Paths under /organizations/{org}/projects/{project}.
    static const std::vector<Route> k_routes = {
        {"GET", {}, &Emulator::project},
        {"GET", {"limits"}, &Emulator::limits},
        {"GET", {"branches"}, &Emulator::list_branches},
        {"POST", {"branches"}, &Emulator::create_branch},
        {"GET", {"branches", "{id}"}, &Emulator::describe_branch},
        {"PATCH", {"branches", "{id}"}, &Emulator::patch_branch},
        {"DELETE", {"branches", "{id}"}, &Emulator::delete_branch},
        {"GET", {"branches", "{id}", "credentials"}, &Emulator::credentials},
    };
    return k_routes;
}

Emulator::Answer Emulator::dispatch(const std::vector<Route>& routes, const HttpRequest& req,
                                    const std::vector<std::string>& segments, json body) {
    bool path_known = false;
    for (const auto& r : routes) {
        if (r.pattern.size() != segments.size()) {
            continue;
        }
        std::map<std::string, std::string> params;
        bool match = true;
        for (std::size_t i = 0; i < segments.size() && match; ++i) {
            const std::string& p = r.pattern[i];
            if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
                params[p.substr(1, p.size() - 2)] = segments[i];
            } else {
                match = p == segments[i];
            }
        }
        if (!match) {
            continue;
        }
        path_known = true;
        if (req.method == r.method) {
            return (this->*r.handler)(Call{req, std::move(params), std::move(body)});
        }
    }
    if (path_known) {
        return {405, {{"message", "method not allowed"}}, {}};
    }
    return {404, {{"message", "not found"}}, {}};
}

// Bearer token, organization and project; rest gets the path below the
// project. An answer when the call goes no further.
std::optional<Emulator::Answer> Emulator::authorize(const HttpRequest& req,
                                                    std::vector<std::string>& rest) const {
    const std::string auth = req.header("authorization");
    if (auth.size() < 7 || lower(auth.substr(0, 7)) != "bearer ") {
        return Answer{401, {{"message", "no token found"}}, {}};
    }
    std::string token = auth.substr(7);
    while (!token.empty() && token.front() == ' ') {
        token.erase(0, 1);
    }
    if (token.empty()) {
        return Answer{401, {{"message", "no token found"}}, {}};
    }
    const bool readonly = !m_opts.readonly_key.empty() && token == m_opts.readonly_key;
    if (token != m_opts.api_key && !readonly) {
        return Answer{401, {{"message", "invalid token"}}, {}};
    }
    const auto parts = split_path(req.path);
    if (parts.size() < 2 || parts[0] != "organizations") {
        return Answer{404, {{"message", "not found"}}, {}};
    }
    if (parts[1] != m_opts.org) {
        return Answer{401, {{"message", "no access to organization [" + parts[1] + "]"}}, {}};
    }
    if (readonly && req.method != "GET" && req.method != "HEAD") {
        return Answer{403, {{"message", "access denied"}}, {}};
    }
    if (parts.size() < 4 || parts[2] != "projects") {
        return Answer{404, {{"message", "not found"}}, {}};
    }
    if (parts[3] != m_opts.project) {
        return Answer{404, {{"message", "project [" + parts[3] + "] not found"}}, {}};
    }
    rest.assign(parts.begin() + 4, parts.end());
    return std::nullopt;
}

HttpResponse Emulator::handle(const HttpRequest& req) {
    if (req.path == "/_emulator" || req.path.rfind("/_emulator/", 0) == 0) {
        return handle_admin(req);
    }
    return handle_api(req);
}

// The pipeline of an API call: fault layer first (it may answer instead),
// then auth and the route table, then the fault layer may spoil the answer.
HttpResponse Emulator::handle_api(const HttpRequest& req) {
    const auto started = Clock::now();
    const std::string rid = request_id();
    std::uint64_t seq = 0;
    long latency_ms = 0;
    {
        std::lock_guard lock(m_mu);
        seq = ++m_seq;
        latency_ms = m_opts.latency_ms;
    }
    const FaultDecision decision = m_faults.decide(req.method, req.path, started);
    HttpResponse res;
    res.set_header("X-Request-Id", rid);
    if (decision.replaces_call()) {
        FaultLayer::answer_instead(decision, req.method, req.path, rid, res);
    } else {
        std::vector<std::string> rest;
        // Built in place, never assigned: clang-tidy reads the move
        // assignment of nlohmann::json (by-value operator=) as throwing.
        auto refused = authorize(req, rest);
        Answer a = refused ? std::move(*refused) : dispatch(api_routes(), req, rest, nullptr);
        res.status = a.status;
        for (const auto& [k, v] : a.headers) {
            res.set_header(k, v);
        }
        if (!a.body.is_null()) {
            if (a.status >= 400) {
                a.body["id"] = rid;
            }
            res.set_header("Content-Type", "application/json");
            res.body = dump_json(a.body);
        }
        if (decision.rule) {
            FaultLayer::spoil(*decision.rule, rid, std::move(a.body), res);
        }
    }
    if (latency_ms > 0) {
        // The round trip of a far API (--latency-ms), outside every lock:
        // calls on other connections overlap as they would.
        std::this_thread::sleep_until(started + milliseconds(latency_ms));
    }
    const long ms = static_cast<long>(duration_cast<milliseconds>(Clock::now() - started).count());
    record(req, res, seq, rid, decision.name(), ms);
    return res;
}

void Emulator::record(const HttpRequest& req, const HttpResponse& res, std::uint64_t seq,
                      const std::string& rid, const std::string& fault_name, long ms) {
    json req_headers = json::object();
    for (const auto& [k, v] : req.headers) {
        if (k != "authorization" && k != "proxy-authorization") {
            req_headers[k] = v;
        }
    }
    json res_headers = json::object();
    for (const auto& [k, v] : res.headers) {
        res_headers[k] = v;
    }
    const bool delivered = res.delivery != Delivery::Drop;
    std::string sent_body = res.body;
    if (res.delivery == Delivery::Truncate) {
        sent_body.resize(sent_body.size() / 2);
    }
    json entry = {{"seq", seq},
                  {"method", req.method},
                  {"path", req.path},
                  {"query", req.query},
                  {"requestHeaders", req_headers},
                  {"requestBody", req.body},
                  {"status", delivered ? res.status : 0},
                  {"responseHeaders", delivered ? res_headers : json::object()},
                  {"responseBody", delivered ? sent_body : std::string()},
                  {"requestId", rid},
                  {"fault", fault_name.empty() ? json(nullptr) : json(fault_name)},
                  {"ms", ms}};
    {
        std::lock_guard lock(m_mu);
        m_requests.push_back(std::move(entry));
    }
    log_line(req.method + " " + req.path + " -> " +
             (delivered ? std::to_string(res.status) : "dropped") + " " + std::to_string(ms) +
             "ms" + (fault_name.empty() ? "" : " fault=" + fault_name) + " " + rid);
}

// ---------------------------------------------------------------- API calls

Emulator::Answer Emulator::project(const Call& /*c*/) {
    const std::string ts = rfc3339(m_project_created);
    const json stz = {{"enabled", false}, {"inactivityPeriodMinutes", 30}};
    return {200,
            {{"id", m_opts.project},
             {"name", "emulator"},
             {"createdAt", ts},
             {"updatedAt", ts},
             {"configuration", {{"scaleToZero", {{"baseBranches", stz}, {"childBranches", stz}}}}}},
            {}};
}

// The hosted service's effective project limits (`@xata.io/api`
// effectiveProjectLimitsSchema); Xata Core has no such call.
Emulator::Answer Emulator::limits(const Call& /*c*/) {
    std::lock_guard lock(m_mu);
    if (m_opts.credentials_shape == "core") {
        return {404, {{"message", "not found"}}, {}};
    }
    return {200,
            {{"maxDescriptionLength", 100},
             {"maxBranchesPerProject", m_opts.max_branches},
             {"maxInstancesPerBranch", 5},
             {"minInstancesPerBranch", 1},
             {"maxAllowedInstanceType", 2000},
             {"maxBranchesPerHour", m_opts.max_branches_per_hour},
             {"maxStorageGBPerBranch", 250}},
            {}};
}

Emulator::Answer Emulator::list_branches(const Call& /*c*/) {
    std::lock_guard lock(m_mu);
    const auto now = Clock::now();
    json items = json::array();
    for (const auto& b : m_branches) {
        if (!b->deleted_at) {
            items.push_back(json_of(*b, BranchShape::Listed, now));
        }
    }
    return {200, {{"branches", items}}, {}};
}

Emulator::Answer Emulator::create_branch(const Call& c) {
    const json body = json::parse(c.req.body, nullptr, false);
    auto bad = [](const std::string& msg) { return Answer{400, {{"message", msg}}, {}}; };
    if (body.is_discarded() || !body.is_object()) {
        return bad("invalid request body");
    }
    if (!body.contains("name") || !body["name"].is_string() ||
        body["name"].get<std::string>().empty()) {
        return bad("name is required");
    }
    const std::string name = body["name"].get<std::string>();
    std::optional<std::string> description;
    if (body.contains("description") && !body["description"].is_null()) {
        if (!body["description"].is_string() ||
            !valid_description(body["description"].get<std::string>())) {
            return bad(
                "invalid description: at most 50 characters, letters, digits, '-' and "
                "spaces, starting with a letter or digit");
        }
        description = body["description"].get<std::string>();
    }
    bool stz_enabled = false;
    long stz_minutes = 30;
    if (body.contains("scaleToZero") && !body["scaleToZero"].is_null()) {
        const json& s = body["scaleToZero"];
        if (!valid_scale_to_zero(s)) {
            return bad("invalid scaleToZero");
        }
        stz_enabled = s["enabled"].get<bool>();
        if (s.contains("inactivityPeriodMinutes")) {
            stz_minutes = s["inactivityPeriodMinutes"].get<long>();
        }
    }
    if (!body.contains("mode") || !body["mode"].is_string()) {
        return bad("mode is required");
    }
    const std::string mode = body["mode"].get<std::string>();
    std::optional<std::string> parent_id;
    if (mode == "inherit") {
        if (!body.contains("parentID") || !body["parentID"].is_string() ||
            body["parentID"].get<std::string>().empty()) {
            return bad("parentID is required with mode inherit");
        }
        parent_id = body["parentID"].get<std::string>();
    } else if (mode == "custom") {
        if (!body.contains("configuration") || !body["configuration"].is_object()) {
            return bad("configuration is required with mode custom");
        }
    } else {
        return bad("invalid mode [" + mode + "]");
    }

    std::lock_guard lock(m_mu);
    const auto now = Clock::now();
    const long active = std::count_if(m_branches.begin(), m_branches.end(),
                                      [](const auto& b) { return !b->deleted_at; });
    if (active >= m_opts.max_branches) {
        return bad("project [" + m_opts.project + "] has too many branches");
    }
    while (!m_recent_creates.empty() && now - m_recent_creates.front() >= std::chrono::hours(1)) {
        m_recent_creates.pop_front();
    }
    if (static_cast<long>(m_recent_creates.size()) >= m_opts.max_branches_per_hour) {
        return {
            403,
            {{"message", "project [" + m_opts.project + "] may create at most " +
                             std::to_string(m_opts.max_branches_per_hour) + " branches per hour"}},
            {}};
    }
    if (parent_id) {
        Branch* parent = find_active(*parent_id);
        if (parent == nullptr) {
            return {404, {{"message", "Branch [" + *parent_id + "]: not found"}}, {}};
        }
        if (observe(*parent, now).status_type != k_healthy) {
            return {412, {{"message", "parent branch [" + *parent_id + "] is not healthy"}}, {}};
        }
    }
    for (const auto& b : m_branches) {
        if (!b->deleted_at && b->name == name) {
            return {409, {{"message", "branch [" + name + "] already exists"}}, {}};
        }
    }
    m_recent_creates.push_back(now);
    auto b = std::make_unique<Branch>();
    b->id = new_branch_id();
    b->name = name;
    b->description = description;
    b->parent_id = parent_id;
    b->public_access = m_opts.public_access;
    b->created_at = b->updated_at = std::chrono::system_clock::now();
    b->born = now;
    b->hibernated_ms = m_opts.hibernated_ms;
    b->transient_ms = m_opts.transient_ms;
    b->scale_to_zero = stz_enabled;
    b->inactivity_minutes = stz_minutes;
    b->database = db_name_for(name, b->id);
    b->role = b->database;
    b->password = new_password();
    b->password_lag_ms = m_opts.password_lag_ms;
    if (m_next_behavior) {
        b->behavior = *m_next_behavior;
        b->no_credentials_status = m_next_no_credentials_status;
        b->no_credentials_left = m_next_no_credentials_count;
        m_next_behavior.reset();
    }
    if (m_pg) {
        b->db_state = "creating";
        b->password_live = b->password_lag_ms == 0;
    }
    const std::string id = b->id;
    Answer a{201, json_of(*b, BranchShape::Created, now), {}};
    m_branches.push_back(std::move(b));
    if (m_pg) {
        // Detached; m_workers counts them so shutdown() can wait.
        ++m_workers;
        std::thread([this, id] {
            start_child_work(id);
            std::lock_guard l(m_mu);
            --m_workers;
            m_cv.notify_all();
        }).detach();
    }
    return a;
}

void Emulator::start_child_work(const std::string& id) {
    std::string parent_db;
    std::string db;
    std::string role;
    std::string password;
    std::shared_ptr<std::mutex> parent_lock;
    bool custom = false;
    {
        std::lock_guard lock(m_mu);
        const Branch* b = find_any(id);
        if (b == nullptr) {
            return;
        }
        if (b->parent_id) {
            if (const Branch* p = find_any(*b->parent_id); p != nullptr) {
                parent_db = p->database;
                parent_lock = p->copy_lock;
            }
        }
        db = b->database;
        role = b->role;
        // While the password lags, the role logs in with another one.
        password = b->password_live ? b->password : new_password() + "lag";
        custom = !b->parent_id;
    }
    std::string err;
    if (custom) {
        err = m_pg->create_root(db, role, password, "");
    } else if (!parent_lock) {
        err = "parent branch vanished";
    } else {
        std::lock_guard pl(*parent_lock);
        err = m_pg->create_child(parent_db, db, role, password);
    }
    bool drop = false;
    {
        std::lock_guard lock(m_mu);
        if (Branch* x = find_any(id); x != nullptr) {
            x->db_state = err.empty() ? "ready" : "failed";
            x->db_error = err;
            drop = x->drop_requested;
        }
        m_cv.notify_all();
    }
    if (!err.empty()) {
        log_line("xata-emulator: creating database " + db + " failed: " + err);
    }
    if (drop) {
        drop_branch_db(id);
    }
}

void Emulator::drop_branch_db(const std::string& id) {
    std::string db;
    std::string role;
    std::shared_ptr<std::mutex> own_lock;
    {
        std::lock_guard lock(m_mu);
        const Branch* x = find_any(id);
        if (x == nullptr || x->db_state == "dropped" || x->db_state == "none") {
            return;
        }
        db = x->database;
        role = x->role;
        own_lock = x->copy_lock;
    }
    std::string err;
    {
        std::lock_guard ol(*own_lock);
        err = m_pg->drop_branch(db, role);
    }
    std::vector<std::string> retry;
    {
        std::lock_guard lock(m_mu);
        if (Branch* x = find_any(id); x != nullptr && err.empty()) {
            x->db_state = "dropped";
        }
        if (!err.empty()) {
            m_pending_role_drops.push_back(role);
        }
        retry.swap(m_pending_role_drops);
    }
    if (!err.empty()) {
        log_line("xata-emulator: dropping " + db + ": " + err);
    }
    // Roles that could not go earlier (they owned objects in a database
    // being copied at the time): try again now.
    std::vector<std::string> still;
    for (const auto& r : retry) {
        if ((r == role && !err.empty()) || !m_pg->drop_role(r).empty()) {
            still.push_back(r);
        }
    }
    std::lock_guard lock(m_mu);
    m_pending_role_drops.insert(m_pending_role_drops.end(), still.begin(), still.end());
}

void Emulator::tick_passwords() {
    std::unique_lock lock(m_mu);
    while (!m_stopping) {
        m_cv.wait_for(lock, k_tick);
        const auto now = Clock::now();
        struct Due {
            std::string id;
            std::string role;
            std::string password;
        };
        std::vector<Due> due;
        for (auto& b : m_branches) {
            if (b->deleted_at || b->password_live || b->db_state != "ready") {
                continue;
            }
            observe(*b, now);
            if (b->healthy_since && now >= *b->healthy_since + milliseconds(b->password_lag_ms)) {
                due.push_back({b->id, b->role, b->password});
            }
        }
        if (due.empty()) {
            continue;
        }
        lock.unlock();
        std::vector<std::pair<std::string, std::string>> results;
        results.reserve(due.size());
        for (const auto& d : due) {
            results.emplace_back(d.id, m_pg->set_password(d.role, d.password));
        }
        lock.lock();
        for (const auto& [id, err] : results) {
            Branch* b = find_active(id);
            if (b == nullptr) {
                continue;  // deleted meanwhile: its role is gone
            }
            if (err.empty()) {
                b->password_live = true;
            } else {
                log_line("xata-emulator: setting the password of " + b->role + ": " + err);
            }
        }
    }
}

Emulator::Answer Emulator::describe_branch(const Call& c) {
    std::lock_guard lock(m_mu);
    Branch* b = find_active(c.id());
    if (b == nullptr) {
        return {404, {{"message", "branch [" + c.id() + "] not found"}}, {}};
    }
    const auto now = Clock::now();
    observe(*b, now);
    return {200, json_of(*b, BranchShape::Described, now), {}};
}

Emulator::Answer Emulator::patch_branch(const Call& c) {
    const json body = json::parse(c.req.body, nullptr, false);
    const std::string& id = c.id();
    std::lock_guard lock(m_mu);
    Branch* b = find_active(id);
    if (b == nullptr) {
        return {404, {{"message", "branch [" + id + "] not found"}}, {}};
    }
    auto bad = [](const std::string& msg) { return Answer{400, {{"message", msg}}, {}}; };
    if (body.is_discarded() || !body.is_object()) {
        return bad("invalid request body");
    }
    // Everything is checked before anything changes.
    if (body.contains("name")) {
        if (!body["name"].is_string() || body["name"].get<std::string>().empty()) {
            return bad("invalid name");
        }
        const std::string name = body["name"].get<std::string>();
        for (const auto& o : m_branches) {
            if (!o->deleted_at && o->name == name && o->id != id) {
                return {409, {{"message", "branch [" + name + "] already exists"}}, {}};
            }
        }
    }
    if (body.contains("description") &&
        (!body["description"].is_string() ||
         !valid_description(body["description"].get<std::string>()))) {
        return bad("invalid description");
    }
    if (body.contains("hibernate") && !body["hibernate"].is_boolean()) {
        return bad("invalid hibernate");
    }
    if (body.contains("replicas") &&
        (!body["replicas"].is_number_integer() || body["replicas"].get<long>() < 0 ||
         body["replicas"].get<long>() > 4)) {
        return bad("invalid replicas");
    }
    if (body.contains("scaleToZero") && !valid_scale_to_zero(body["scaleToZero"])) {
        return bad("invalid scaleToZero");
    }

    if (body.contains("scaleToZero")) {
        const json& s = body["scaleToZero"];
        b->scale_to_zero = s["enabled"].get<bool>();
        if (s.contains("inactivityPeriodMinutes")) {
            b->inactivity_minutes = s["inactivityPeriodMinutes"].get<long>();
        }
    }
    if (body.contains("name")) {
        b->name = body["name"].get<std::string>();
    }
    if (body.contains("description")) {
        b->description = body["description"].get<std::string>();
    }
    const auto now = Clock::now();
    if (body.contains("hibernate")) {
        if (body["hibernate"].get<bool>()) {
            b->hibernating = true;
            b->forced_ready = false;
            b->woken.reset();
        } else if (status_of(*b, now).status_type == k_hibernated) {
            b->hibernating = false;
            b->woken = now;
        }
    }
    b->updated_at = std::chrono::system_clock::now();
    return {200, json_of(*b, BranchShape::Created, now), {}};
}

Emulator::Answer Emulator::delete_branch(const Call& c) {
    const std::string& id = c.id();
    bool drop_now = false;
    {
        std::lock_guard lock(m_mu);
        Branch* b = find_active(id);
        if (b == nullptr) {
            return {404, {{"message", "branch [" + id + "] not found"}}, {}};
        }
        b->deleted_at = std::chrono::system_clock::now();
        if (b->db_state == "creating") {
            b->drop_requested = true;
        } else if (b->db_state == "ready" || b->db_state == "failed") {
            drop_now = true;
        }
    }
    if (drop_now) {
        drop_branch_db(id);
    }
    return {204, nullptr, {}};
}

Emulator::Answer Emulator::credentials(const Call& c) {
    const std::string& id = c.id();
    std::lock_guard lock(m_mu);
    Branch* b = find_active(id);
    if (b == nullptr) {
        return {404, {{"message", "Branch [" + id + "]: not found"}}, {}};
    }
    const auto user = c.req.params.find("username");
    if (user == c.req.params.end() || user->second.empty()) {
        return {400, {{"message", "missing username query parameter"}}, {}};
    }
    if (user->second != "xata") {
        return {404, {{"message", "user [" + user->second + "] not found"}}, {}};
    }
    observe(*b, Clock::now());
    if (b->behavior == Behavior::NoCredentials) {
        bool refuse = b->no_credentials_left == 0;
        if (b->no_credentials_left > 0) {
            refuse = true;
            if (--b->no_credentials_left == 0) {
                b->behavior = Behavior::Normal;
            }
        }
        if (refuse) {
            if (b->no_credentials_status == 404) {
                return {404, {{"message", "Branch [" + id + "]: not found"}}, {}};
            }
            return {b->no_credentials_status,
                    {{"message", "credentials are not available yet"}},
                    {{"Retry-After", "1"}}};
        }
    }
    json j = {{"username", b->role}, {"password", b->password}};
    if (m_opts.credentials_shape != "core") {
        j["hostname"] = m_pg_host;
        j["port"] = m_pg_port;
        j["dbname"] = b->database;
        j["connectionString"] = "postgresql://" + percent_encode(b->role) + ":" +
                                percent_encode(b->password) + "@" + m_pg_host + ":" +
                                std::to_string(m_pg_port) + "/" + b->database;
    }
    return {200, j, {}};
}

void Emulator::shutdown() {
    {
        std::unique_lock lock(m_mu);
        m_cv.wait(lock, [this] { return m_workers == 0; });
        m_stopping = true;
        m_cv.notify_all();
    }
    if (m_ticker.joinable()) {
        m_ticker.join();
    }
    if (!m_pg || !m_opts.drop_on_exit) {
        return;
    }
    std::vector<std::string> ids;
    {
        std::lock_guard lock(m_mu);
        for (const auto& b : m_branches) {
            if (b->db_state != "dropped" && b->db_state != "none") {
                ids.push_back(b->id);
            }
        }
    }
    // Children first, so no role owns anything elsewhere when dropped.
    std::reverse(ids.begin(), ids.end());
    for (const auto& id : ids) {
        drop_branch_db(id);
    }
    std::vector<std::string> left;
    {
        std::lock_guard lock(m_mu);
        left.swap(m_pending_role_drops);
    }
    for (const auto& r : left) {
        if (auto e = m_pg->drop_role(r); !e.empty()) {
            log_line(std::string("xata-emulator: dropping role ").append(r).append(": ").append(e));
        }
    }
    m_opts.drop_on_exit = false;  // once
}

}  // namespace emu
