#include "emulator.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

namespace emu {

using nlohmann::json;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

namespace {

constexpr const char* kRegion = "us-east-1";
constexpr const char* kImage = "postgres:15";
constexpr const char* kInstanceType = "xata.micro";

constexpr const char* kHealthy = "STATUS_TYPE_HEALTHY";
constexpr const char* kTransient = "STATUS_TYPE_TRANSIENT";
constexpr const char* kFault = "STATUS_TYPE_FAULT";
constexpr const char* kHibernated = "STATUS_TYPE_HIBERNATED";

constexpr const char* kPhaseHibernated = "Cluster hibernated";
constexpr const char* kPhaseSettingUp = "Setting up primary";
constexpr const char* kPhaseHealthy = "Cluster in healthy state";
constexpr const char* kPhaseFault = "Unable to create required cluster objects";

const char* behavior_name(Behavior b) {
    switch (b) {
        case Behavior::normal:
            return "normal";
        case Behavior::fault:
            return "fault";
        case Behavior::never_ready:
            return "never_ready";
        case Behavior::stay_hibernated:
            return "stay_hibernated";
        case Behavior::no_credentials:
            return "no_credentials";
    }
    return "normal";
}

std::optional<Behavior> parse_behavior(const std::string& s) {
    if (s == "normal")
        return Behavior::normal;
    if (s == "fault")
        return Behavior::fault;
    if (s == "never_ready")
        return Behavior::never_ready;
    if (s == "stay_hibernated")
        return Behavior::stay_hibernated;
    if (s == "no_credentials")
        return Behavior::no_credentials;
    return std::nullopt;
}

std::vector<std::string> split_path(const std::string& path) {
    std::vector<std::string> out;
    std::size_t start = 1;
    if (path.empty() || path[0] != '/')
        return out;
    for (;;) {
        const auto slash = path.find('/', start);
        out.push_back(
            path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
        if (slash == std::string::npos)
            break;
        start = slash + 1;
    }
    return out;
}

bool valid_description(const std::string& d) {
    if (d.empty() || d.size() > 50)
        return false;
    static const std::regex re("^[a-zA-Z0-9]+[a-zA-Z0-9- ]*$");
    return std::regex_match(d, re);
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

const std::vector<std::string> kFaultKinds = {"status", "drop_before",  "drop_after",
                                              "delay",  "malformed",    "truncated",
                                              "html",   "missing_field"};

std::string html_page(int status) {
    return "<html>\r\n<head><title>" + std::to_string(status) + " " + status_reason(status) +
           "</title></head>\r\n<body>\r\n<center><h1>" + std::to_string(status) + " " +
           status_reason(status) + "</h1></center>\r\n</body>\r\n</html>\r\n";
}

std::string error_message_for(int status) {
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

}  // namespace

Emulator::Emulator(Options opts)
    : opts_(std::move(opts)),
      id_rng_(std::random_device{}() ^
              static_cast<std::uint64_t>(Clock::now().time_since_epoch().count())),
      fault_rng_(opts_.seed),
      rate_rng_(opts_.seed ^ 0x9e3779b97f4a7c15ULL),
      project_created_(std::chrono::system_clock::now()) {}

Emulator::~Emulator() {
    shutdown();
}

void Emulator::log_line(const std::string& line) const {
    if (opts_.quiet)
        return;
    std::cerr << line + "\n" << std::flush;
}

bool Emulator::init(std::string& error) {
    if (!opts_.seed_sql_file.empty()) {
        std::ifstream in(opts_.seed_sql_file);
        if (!in) {
            error = "cannot read --seed-sql " + opts_.seed_sql_file;
            return false;
        }
        std::stringstream ss;
        ss << in.rdbuf();
        seed_sql_ = ss.str();
    }
    if (opts_.db_prefix.size() + 1 + 26 > 60) {
        error = "--db-prefix is too long (database names have at most 63 bytes)";
        return false;
    }
    if (!opts_.pg.empty()) {
        pg_ = std::make_unique<PgBackend>(opts_.pg);
        std::string host;
        int port = 0;
        if (!pg_->probe(host, port, error))
            return false;
        pg_host_ = opts_.pg_public_host.empty() ? (host.empty() ? "127.0.0.1" : host)
                                                : opts_.pg_public_host;
        pg_port_ = opts_.pg_public_port > 0 ? opts_.pg_public_port : port;
    } else {
        pg_host_ = "127.0.0.1";
        pg_port_ = 1;
    }

    auto b = std::make_unique<Branch>();
    b->id = new_branch_id();
    b->name = opts_.root_branch;
    b->root = true;
    b->created_at = b->updated_at = std::chrono::system_clock::now();
    b->born = Clock::now();
    b->database = db_name_for(b->name, b->id);
    b->role = b->database;
    b->password = make_password(id_rng_, opts_.password_style == "special");
    if (pg_) {
        if (auto e = pg_->create_root(b->database, b->role, b->password, seed_sql_); !e.empty()) {
            error = "creating the root branch database " + b->database + ": " + e;
            pg_->drop_branch(b->database, b->role);
            return false;
        }
        b->db_state = "ready";
    }
    std::lock_guard lock(mu_);
    branches_.push_back(std::move(b));
    return true;
}

std::string Emulator::new_branch_id() {
    for (;;) {
        std::string id = base32hex_id(id_rng_, 26, true);
        bool taken = false;
        for (const auto& b : branches_)
            taken = taken || b->id == id;
        if (!taken)
            return id;
    }
}

std::string Emulator::request_id() {
    std::lock_guard lock(mu_);
    return "req_" + base32hex_id(id_rng_, 22, false);
}

std::string Emulator::db_name_for(const std::string& name, const std::string& id) const {
    std::string clean;
    for (const char ch : name) {
        const auto c = static_cast<unsigned char>(std::tolower(static_cast<unsigned char>(ch)));
        clean.push_back((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? static_cast<char>(c)
                                                                         : '_');
    }
    const std::size_t room = 63 - opts_.db_prefix.size() - 1 - id.size();
    if (clean.size() > room)
        clean.resize(room);
    return opts_.db_prefix + clean + "_" + id;
}

std::string Emulator::connection_string(const Branch& b, bool core_shape) const {
    const std::string auth = percent_encode(b.role) + ":" + percent_encode(b.password) + "@";
    if (core_shape) {
        return "postgresql://" + auth + pg_host_ + ":" + std::to_string(pg_port_) + "/" +
               b.database + "?sslmode=disable";
    }
    // The hosted service's describe answer: deprecated, points nowhere.
    return "postgresql://" + auth + b.id + "-deprecated." + kRegion +
           ".xata.invalid:5432/xata?sslmode=require";
}

Branch* Emulator::find_active(const std::string& id) {
    for (auto& b : branches_) {
        if (b->id == id && !b->deleted_at)
            return b.get();
    }
    return nullptr;
}

StatusView Emulator::status_of(const Branch& b, Clock::time_point now) const {
    const StatusView hibernated{kHibernated, kPhaseHibernated, 0, 0};
    const StatusView transient{kTransient, kPhaseSettingUp, 1, 0};
    const StatusView healthy{kHealthy, kPhaseHealthy, 1, 1};
    const StatusView fault{kFault, kPhaseFault, 1, 0};
    if (b.db_state == "failed")
        return fault;
    if (b.forced_ready && b.db_state != "creating")
        return healthy;
    if (b.hibernating)
        return hibernated;
    const auto since = b.woken ? *b.woken : b.born;
    const long early = b.woken ? 0 : b.hibernated_ms;
    const long elapsed = static_cast<long>(duration_cast<milliseconds>(now - since).count());
    if (elapsed < early)
        return hibernated;
    if (b.behavior == Behavior::stay_hibernated && !b.woken)
        return hibernated;
    if (elapsed < early + b.transient_ms)
        return transient;
    if (b.behavior == Behavior::fault)
        return fault;
    if (b.behavior == Behavior::never_ready)
        return transient;
    if (b.db_state == "creating")
        return transient;
    return healthy;
}

json Emulator::short_json(const Branch& b) const {
    json j = {
        {"id", b.id},
        {"name", b.name},
        {"createdAt", rfc3339(b.created_at)},
        {"updatedAt", rfc3339(b.updated_at)},
        {"parentID", b.parent_id ? json(*b.parent_id) : json(nullptr)},
        {"connectionString",
         opts_.credentials_shape == "core" ? json(connection_string(b, true)) : json(nullptr)},
        {"region", kRegion},
        {"publicAccess", false}};
    if (b.description)
        j["description"] = *b.description;
    return j;
}

json Emulator::list_json(const Branch& b) const {
    json j = {{"id", b.id},
              {"name", b.name},
              {"createdAt", rfc3339(b.created_at)},
              {"updatedAt", rfc3339(b.updated_at)},
              {"parentID", b.parent_id ? json(*b.parent_id) : json(nullptr)},
              {"region", kRegion},
              {"publicAccess", false},
              {"backupsEnabled", false}};
    if (b.description)
        j["description"] = *b.description;
    return j;
}

json Emulator::full_json(const Branch& b, Clock::time_point now) const {
    const StatusView s = status_of(b, now);
    json instances = json::array();
    for (int i = 0; i < s.instance_count; ++i) {
        const bool ready = i < s.ready_count;
        instances.push_back({{"id", b.id + "-" + std::to_string(i + 1)},
                             {"status", ready                     ? "healthy"
                                        : s.status_type == kFault ? "failed"
                                                                  : "starting"},
                             {"primary", i == 0 && ready},
                             {"targetPrimary", i == 0}});
    }
    json j = {{"id", b.id},
              {"name", b.name},
              {"createdAt", rfc3339(b.created_at)},
              {"updatedAt", rfc3339(b.updated_at)},
              {"parentID", b.parent_id ? json(*b.parent_id) : json(nullptr)},
              {"region", kRegion},
              {"status",
               {{"status", s.phase},
                {"statusType", s.status_type},
                {"instanceCount", s.instance_count},
                {"instanceReadyCount", s.ready_count},
                {"instances", instances}}},
              {"connectionString", connection_string(b, opts_.credentials_shape == "core")},
              {"publicAccess", false},
              {"backupsEnabled", false},
              {"scaleToZero",
               {{"enabled", b.scale_to_zero}, {"inactivityPeriodMinutes", b.inactivity_minutes}}},
              {"configuration",
               {{"image", kImage},
                {"region", kRegion},
                {"instanceType", kInstanceType},
                {"replicas", 0}}}};
    if (b.description)
        j["description"] = *b.description;
    return j;
}

json Emulator::admin_json(const Branch& b, Clock::time_point now) const {
    return {{"id", b.id},
            {"name", b.name},
            {"parentID", b.parent_id ? json(*b.parent_id) : json(nullptr)},
            {"database", b.database},
            {"role", b.role},
            {"state", b.deleted_at ? "DELETED" : status_of(b, now).status_type},
            {"behavior", behavior_name(b.behavior)},
            {"dbState", b.db_state},
            {"dbError", b.db_error},
            {"createdAt", rfc3339(b.created_at)},
            {"deletedAt", b.deleted_at ? json(rfc3339(*b.deleted_at)) : json(nullptr)}};
}

// ---------------------------------------------------------------- API calls

Emulator::Answer Emulator::project() {
    const std::string ts = rfc3339(project_created_);
    const json stz = {{"enabled", false}, {"inactivityPeriodMinutes", 30}};
    return {200,
            {{"id", opts_.project},
             {"name", "emulator"},
             {"createdAt", ts},
             {"updatedAt", ts},
             {"configuration", {{"scaleToZero", {{"baseBranches", stz}, {"childBranches", stz}}}}}},
            {}};
}

Emulator::Answer Emulator::list_branches() {
    std::lock_guard lock(mu_);
    json items = json::array();
    for (const auto& b : branches_) {
        if (!b->deleted_at)
            items.push_back(list_json(*b));
    }
    return {200, {{"branches", items}}, {}};
}

Emulator::Answer Emulator::create_branch(const HttpRequest& req) {
    const json body = json::parse(req.body, nullptr, false);
    auto bad = [](const std::string& msg) { return Answer{400, {{"message", msg}}, {}}; };
    if (body.is_discarded() || !body.is_object())
        return bad("invalid request body");
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
        if (!s.is_object() || !s.contains("enabled") || !s["enabled"].is_boolean() ||
            (s.contains("inactivityPeriodMinutes") &&
             !s["inactivityPeriodMinutes"].is_number_integer())) {
            return bad("invalid scaleToZero");
        }
        stz_enabled = s["enabled"].get<bool>();
        if (s.contains("inactivityPeriodMinutes")) {
            stz_minutes = s["inactivityPeriodMinutes"].get<long>();
        }
    }
    if (!body.contains("mode") || !body["mode"].is_string())
        return bad("mode is required");
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

    std::string id;
    {
        std::lock_guard lock(mu_);
        const auto now = Clock::now();
        long active = 0;
        for (const auto& b : branches_)
            active += b->deleted_at ? 0 : 1;
        if (active >= opts_.max_branches) {
            return bad("maximum number of branches reached [" + std::to_string(opts_.max_branches) +
                       "]");
        }
        Branch* parent = nullptr;
        if (parent_id) {
            parent = find_active(*parent_id);
            if (parent == nullptr) {
                return {404, {{"message", "Branch [" + *parent_id + "]: not found"}}, {}};
            }
            if (status_of(*parent, now).status_type != std::string(kHealthy)) {
                return {
                    412, {{"message", "parent branch [" + *parent_id + "] is not healthy"}}, {}};
            }
        }
        for (const auto& b : branches_) {
            if (!b->deleted_at && b->name == name) {
                return {409, {{"message", "branch [" + name + "] already exists"}}, {}};
            }
        }
        auto b = std::make_unique<Branch>();
        b->id = id = new_branch_id();
        b->name = name;
        b->description = description;
        b->parent_id = parent_id;
        b->created_at = b->updated_at = std::chrono::system_clock::now();
        b->born = now;
        b->hibernated_ms = opts_.hibernated_ms;
        b->transient_ms = opts_.transient_ms;
        b->scale_to_zero = stz_enabled;
        b->inactivity_minutes = stz_minutes;
        b->database = db_name_for(name, b->id);
        b->role = b->database;
        b->password = make_password(id_rng_, opts_.password_style == "special");
        if (next_behavior_) {
            b->behavior = *next_behavior_;
            b->no_credentials_status = next_no_credentials_status_;
            b->no_credentials_left = next_no_credentials_count_;
            next_behavior_.reset();
        }
        if (pg_)
            b->db_state = "creating";
        Answer a{201, short_json(*b), {}};
        branches_.push_back(std::move(b));
        if (pg_) {
            // Detached; workers_ counts them so shutdown() can wait.
            ++workers_;
            std::thread([this, id] {
                start_child_work(id);
                std::lock_guard l(mu_);
                --workers_;
                cv_.notify_all();
            }).detach();
        }
        return a;
    }
}

void Emulator::start_child_work(const std::string& id) {
    std::string parent_db;
    std::string db;
    std::string role;
    std::string password;
    std::shared_ptr<std::mutex> parent_lock;
    bool custom = false;
    {
        std::lock_guard lock(mu_);
        Branch* b = nullptr;
        Branch* p = nullptr;
        for (auto& x : branches_) {
            if (x->id == id)
                b = x.get();
        }
        if (b != nullptr && b->parent_id) {
            for (auto& x : branches_) {
                if (x->id == *b->parent_id)
                    p = x.get();
            }
        }
        db = b->database;
        role = b->role;
        password = b->password;
        custom = !b->parent_id;
        if (p != nullptr) {
            parent_db = p->database;
            parent_lock = p->copy_lock;
        }
    }
    std::string err;
    if (custom) {
        err = pg_->create_root(db, role, password, "");
    } else if (!parent_lock) {
        err = "parent branch vanished";
    } else {
        std::lock_guard pl(*parent_lock);
        err = pg_->create_child(parent_db, db, role, password);
    }
    bool drop = false;
    {
        std::lock_guard lock(mu_);
        for (auto& x : branches_) {
            if (x->id == id) {
                x->db_state = err.empty() ? "ready" : "failed";
                x->db_error = err;
                drop = x->drop_requested;
            }
        }
        cv_.notify_all();
    }
    if (!err.empty())
        log_line("xata-emulator: creating database " + db + " failed: " + err);
    if (drop)
        drop_branch_db(id);
}

void Emulator::drop_branch_db(const std::string& id) {
    std::string db;
    std::string role;
    std::shared_ptr<std::mutex> own_lock;
    {
        std::lock_guard lock(mu_);
        for (auto& x : branches_) {
            if (x->id == id) {
                if (x->db_state == "dropped" || x->db_state == "none")
                    return;
                db = x->database;
                role = x->role;
                own_lock = x->copy_lock;
            }
        }
    }
    if (db.empty())
        return;
    std::string err;
    {
        std::lock_guard ol(*own_lock);
        err = pg_->drop_branch(db, role);
    }
    std::vector<std::string> retry;
    {
        std::lock_guard lock(mu_);
        for (auto& x : branches_) {
            if (x->id == id && err.empty())
                x->db_state = "dropped";
        }
        if (!err.empty())
            pending_role_drops_.push_back(role);
        retry.swap(pending_role_drops_);
    }
    if (!err.empty())
        log_line("xata-emulator: dropping " + db + ": " + err);
    // Roles that could not go earlier (they owned objects in a database
    // being copied at the time): try again now.
    std::vector<std::string> still;
    for (const auto& r : retry) {
        if (r == role && !err.empty()) {
            still.push_back(r);
            continue;
        }
        if (!pg_->drop_role(r).empty())
            still.push_back(r);
    }
    std::lock_guard lock(mu_);
    pending_role_drops_.insert(pending_role_drops_.end(), still.begin(), still.end());
}

Emulator::Answer Emulator::describe_branch(const std::string& id) {
    std::lock_guard lock(mu_);
    const Branch* b = find_active(id);
    if (b == nullptr)
        return {404, {{"message", "branch [" + id + "] not found"}}, {}};
    return {200, full_json(*b, Clock::now()), {}};
}

Emulator::Answer Emulator::patch_branch(const std::string& id, const HttpRequest& req) {
    const json body = json::parse(req.body, nullptr, false);
    std::lock_guard lock(mu_);
    Branch* b = find_active(id);
    if (b == nullptr)
        return {404, {{"message", "branch [" + id + "] not found"}}, {}};
    auto bad = [](const std::string& msg) { return Answer{400, {{"message", msg}}, {}}; };
    if (body.is_discarded() || !body.is_object())
        return bad("invalid request body");
    if (body.contains("name")) {
        if (!body["name"].is_string() || body["name"].get<std::string>().empty()) {
            return bad("invalid name");
        }
        const std::string name = body["name"].get<std::string>();
        for (const auto& o : branches_) {
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
    if (body.contains("scaleToZero")) {
        const json& s = body["scaleToZero"];
        if (!s.is_object() || !s.contains("enabled") || !s["enabled"].is_boolean()) {
            return bad("invalid scaleToZero");
        }
        b->scale_to_zero = s["enabled"].get<bool>();
        if (s.contains("inactivityPeriodMinutes") &&
            s["inactivityPeriodMinutes"].is_number_integer()) {
            b->inactivity_minutes = s["inactivityPeriodMinutes"].get<long>();
        }
    }
    if (body.contains("name"))
        b->name = body["name"].get<std::string>();
    if (body.contains("description"))
        b->description = body["description"].get<std::string>();
    if (body.contains("hibernate")) {
        const auto now = Clock::now();
        if (body["hibernate"].get<bool>()) {
            b->hibernating = true;
            b->forced_ready = false;
            b->woken.reset();
        } else if (status_of(*b, now).status_type == std::string(kHibernated)) {
            b->hibernating = false;
            b->woken = now;
        }
    }
    b->updated_at = std::chrono::system_clock::now();
    return {200, short_json(*b), {}};
}

Emulator::Answer Emulator::delete_branch(const std::string& id) {
    bool drop_now = false;
    {
        std::lock_guard lock(mu_);
        Branch* b = find_active(id);
        if (b == nullptr)
            return {404, {{"message", "branch [" + id + "] not found"}}, {}};
        b->deleted_at = std::chrono::system_clock::now();
        if (b->db_state == "creating") {
            b->drop_requested = true;
        } else if (b->db_state == "ready" || b->db_state == "failed") {
            drop_now = true;
        }
    }
    if (drop_now)
        drop_branch_db(id);
    return {204, nullptr, {}};
}

Emulator::Answer Emulator::credentials(const std::string& id, const HttpRequest& req) {
    std::lock_guard lock(mu_);
    Branch* b = find_active(id);
    if (b == nullptr)
        return {404, {{"message", "Branch [" + id + "]: not found"}}, {}};
    const auto user = req.params.find("username");
    if (user == req.params.end() || user->second.empty()) {
        return {400, {{"message", "missing username query parameter"}}, {}};
    }
    if (user->second != "xata") {
        return {404, {{"message", "user [" + user->second + "] not found"}}, {}};
    }
    if (b->behavior == Behavior::no_credentials) {
        bool refuse = b->no_credentials_left == 0;
        if (b->no_credentials_left > 0) {
            refuse = true;
            if (--b->no_credentials_left == 0)
                b->behavior = Behavior::normal;
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
    if (opts_.credentials_shape != "core") {
        j["hostname"] = pg_host_;
        j["port"] = pg_port_;
        j["dbname"] = b->database;
        j["connectionString"] = "postgresql://" + percent_encode(b->role) + ":" +
                                percent_encode(b->password) + "@" + pg_host_ + ":" +
                                std::to_string(pg_port_) + "/" + b->database;
    }
    return {200, j, {}};
}

Emulator::Answer Emulator::route(const HttpRequest& req, const std::string& /*rid*/,
                                 bool& performed) {
    performed = true;
    const std::string auth = req.header("authorization");
    if (auth.size() < 7 || lower(auth.substr(0, 7)) != "bearer ") {
        return {401, {{"message", "no token found"}}, {}};
    }
    std::string token = auth.substr(7);
    while (!token.empty() && token.front() == ' ')
        token.erase(0, 1);
    const bool readonly = !opts_.readonly_key.empty() && token == opts_.readonly_key;
    if (token.empty())
        return {401, {{"message", "no token found"}}, {}};
    if (token != opts_.api_key && !readonly)
        return {401, {{"message", "invalid token"}}, {}};

    const auto parts = split_path(req.path);
    if (parts.size() < 2 || parts[0] != "organizations") {
        return {404, {{"message", "not found"}}, {}};
    }
    if (parts[1] != opts_.org) {
        return {401, {{"message", "no access to organization [" + parts[1] + "]"}}, {}};
    }
    if (readonly && req.method != "GET" && req.method != "HEAD") {
        return {403, {{"message", "access denied"}}, {}};
    }
    if (parts.size() < 4 || parts[2] != "projects")
        return {404, {{"message", "not found"}}, {}};
    if (parts[3] != opts_.project) {
        return {404, {{"message", "project [" + parts[3] + "] not found"}}, {}};
    }
    const auto not_allowed = [] { return Answer{405, {{"message", "method not allowed"}}, {}}; };
    if (parts.size() == 4) {
        if (req.method == "GET")
            return project();
        return not_allowed();
    }
    if (parts[4] != "branches")
        return {404, {{"message", "not found"}}, {}};
    if (parts.size() == 5) {
        if (req.method == "GET")
            return list_branches();
        if (req.method == "POST")
            return create_branch(req);
        return not_allowed();
    }
    const std::string& id = parts[5];
    if (parts.size() == 6) {
        if (req.method == "GET")
            return describe_branch(id);
        if (req.method == "PATCH")
            return patch_branch(id, req);
        if (req.method == "DELETE")
            return delete_branch(id);
        return not_allowed();
    }
    if (parts.size() == 7 && parts[6] == "credentials") {
        if (req.method == "GET")
            return credentials(id, req);
        return not_allowed();
    }
    return {404, {{"message", "not found"}}, {}};
}

// --------------------------------------------------- faults, log, transport

HttpResponse Emulator::handle(const HttpRequest& req) {
    if (req.path == "/_emulator" || req.path.rfind("/_emulator/", 0) == 0) {
        return handle_admin(req);
    }
    return handle_api(req);
}

HttpResponse Emulator::handle_api(const HttpRequest& req) {
    const auto started = Clock::now();
    const std::string rid = request_id();
    std::optional<FaultRule> fault;
    bool rate_limited = false;
    bool rate_limit_retry_after = false;
    std::uint64_t seq = 0;
    {
        std::lock_guard lock(mu_);
        seq = ++seq_;
        if (opts_.rate_limit > 0) {
            while (!window_.empty() && started - window_.front() >= std::chrono::seconds(1)) {
                window_.pop_front();
            }
            if (static_cast<long>(window_.size()) >= opts_.rate_limit) {
                rate_limited = true;
                rate_limit_retry_after = rate_rng_.uniform() < 0.5;
            } else {
                window_.push_back(started);
            }
        }
        if (!rate_limited) {
            for (auto& r : faults_) {
                if (!r.method.empty() && r.method != req.method)
                    continue;
                if (!std::regex_search(req.path, r.path))
                    continue;
                ++r.seen;
                if (fault || r.seen <= r.after || (r.times > 0 && r.fired >= r.times))
                    continue;
                ++r.fired;
                fault = r;
            }
            if (opts_.fault_rate > 0) {
                // One draw (and one pick) per call whatever happens, so the
                // sequence depends on the seed and the call order only.
                const double u = fault_rng_.uniform();
                const auto pick = fault_rng_.below(8);
                if (!fault && u < opts_.fault_rate) {
                    FaultRule r;
                    r.path_text = "(random)";
                    switch (pick) {
                        case 0:
                            r.kind = "status";
                            r.status = 500;
                            break;
                        case 1:
                            r.kind = "html";
                            r.status = 502;
                            break;
                        case 2:
                            r.kind = "status";
                            r.status = 503;
                            r.retry_after = "1";
                            break;
                        case 3:
                            r.kind = "status";
                            r.status = 504;
                            break;
                        case 4:
                            r.kind = "drop_before";
                            break;
                        case 5:
                            r.kind = "drop_after";
                            break;
                        case 6:
                            r.kind = "truncated";
                            break;
                        default:
                            r.kind = "malformed";
                            break;
                    }
                    fault = r;
                }
            }
        }
    }

    HttpResponse res;
    std::string fault_name;
    res.set_header("X-Request-Id", rid);
    if (rate_limited) {
        fault_name = "rate_limit";
        res.status = 429;
        res.set_header("Content-Type", "text/plain; charset=utf-8");
        if (rate_limit_retry_after)
            res.set_header("Retry-After", "1");
        res.body = "Too Many Requests: rate limit exceeded\n";
    } else if (fault &&
               (fault->kind == "status" || fault->kind == "html" || fault->kind == "drop_before")) {
        fault_name = fault->kind;
        if (fault->kind == "drop_before") {
            res.delivery = Delivery::drop;
        } else if (fault->kind == "html") {
            res.status = fault->status > 0 ? fault->status : 502;
            res.set_header("Content-Type", "text/html");
            res.body = html_page(res.status);
        } else {
            res.status = fault->status > 0 ? fault->status : 503;
            res.set_header("Content-Type", "application/json");
            res.body = json{{"id", rid}, {"message", error_message_for(res.status)}}.dump(
                -1, ' ', false, json::error_handler_t::replace);
        }
        if (fault->kind != "drop_before" && !fault->retry_after.empty()) {
            res.set_header("Retry-After", fault->retry_after);
        }
    } else {
        bool performed = false;
        Answer a = route(req, rid, performed);
        res.status = a.status;
        for (const auto& [k, v] : a.headers)
            res.set_header(k, v);
        if (!a.body.is_null()) {
            if (a.status >= 400)
                a.body["id"] = rid;
            res.set_header("Content-Type", "application/json");
            res.body = a.body.dump(-1, ' ', false, json::error_handler_t::replace);
        }
        if (fault) {
            fault_name = fault->kind;
            const std::string& k = fault->kind;
            if (k == "drop_after") {
                res.delivery = Delivery::drop;
            } else if (k == "delay") {
                std::this_thread::sleep_for(milliseconds(fault->delay_ms));
            } else if (k == "malformed") {
                if (res.status == 204)
                    res.status = 200;
                res.set_header("Content-Type", "application/json");
                res.body = res.body.substr(0, res.body.size() / 2) + "\x01<}{";
            } else if (k == "truncated") {
                if (res.status == 204) {
                    res.status = 200;
                    res.body =
                        json{{"id", rid}}.dump(-1, ' ', false, json::error_handler_t::replace);
                    res.set_header("Content-Type", "application/json");
                }
                res.delivery = Delivery::truncate;
            } else if (k == "missing_field" && a.body.is_object() && a.status < 300) {
                std::string field = fault->field;
                if (field.empty()) {
                    if (a.body.contains("branches"))
                        field = "branches";
                    else if (a.body.contains("status") && a.body.contains("configuration"))
                        field = "status";
                    else if (a.body.contains("password"))
                        field = "password";
                    else
                        field = "id";
                }
                a.body.erase(field);
                res.body = a.body.dump(-1, ' ', false, json::error_handler_t::replace);
            }
        }
    }

    const long ms = static_cast<long>(duration_cast<milliseconds>(Clock::now() - started).count());
    json req_headers = json::object();
    for (const auto& [k, v] : req.headers) {
        if (k != "authorization" && k != "proxy-authorization")
            req_headers[k] = v;
    }
    json res_headers = json::object();
    for (const auto& [k, v] : res.headers)
        res_headers[k] = v;
    const bool delivered = res.delivery != Delivery::drop;
    std::string sent_body = res.body;
    if (res.delivery == Delivery::truncate)
        sent_body.resize(sent_body.size() / 2);
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
        std::lock_guard lock(mu_);
        requests_.push_back(std::move(entry));
    }
    log_line(req.method + " " + req.path + " -> " +
             (delivered ? std::to_string(res.status) : "dropped") + " " + std::to_string(ms) +
             "ms" + (fault_name.empty() ? "" : " fault=" + fault_name) + " " + rid);
    return res;
}

HttpResponse Emulator::handle_admin(const HttpRequest& req) {
    HttpResponse res;
    auto reply = [&res](int status, const json& body) {
        res.status = status;
        res.set_header("Content-Type", "application/json");
        res.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
        return res;
    };
    const auto parts = split_path(req.path);  // "_emulator", ...
    const json body = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
    if ((req.method == "POST" || req.method == "PUT") &&
        (body.is_discarded() || !body.is_object())) {
        return reply(400, {{"message", "body must be a JSON object"}});
    }
    const auto now = Clock::now();
    const std::string what = parts.size() > 1 ? parts[1] : "";

    if (what == "health" && req.method == "GET")
        return reply(200, {{"ok", true}});

    if (what == "requests") {
        std::lock_guard lock(mu_);
        if (req.method == "DELETE") {
            requests_ = json::array();
            return reply(200, {{"ok", true}});
        }
        if (req.method == "GET")
            return reply(200, {{"requests", requests_}});
    }

    if (what == "branches" && parts.size() == 2 && req.method == "GET") {
        std::lock_guard lock(mu_);
        json items = json::array();
        for (const auto& b : branches_)
            items.push_back(admin_json(*b, now));
        return reply(200, {{"branches", items}});
    }

    if (what == "config") {
        std::lock_guard lock(mu_);
        if (req.method == "POST") {
            try {
                if (body.contains("hibernatedMs"))
                    opts_.hibernated_ms = body["hibernatedMs"].get<long>();
                if (body.contains("transientMs"))
                    opts_.transient_ms = body["transientMs"].get<long>();
                if (body.contains("maxBranches"))
                    opts_.max_branches = body["maxBranches"].get<long>();
                if (body.contains("rateLimit")) {
                    opts_.rate_limit =
                        body["rateLimit"].is_null() ? 0 : body["rateLimit"].get<long>();
                    window_.clear();
                }
                if (body.contains("faultRate"))
                    opts_.fault_rate = body["faultRate"].get<double>();
                if (body.contains("seed")) {
                    opts_.seed = body["seed"].get<std::uint64_t>();
                    fault_rng_ = Rng(opts_.seed);
                    rate_rng_ = Rng(opts_.seed ^ 0x9e3779b97f4a7c15ULL);
                }
                if (body.contains("credentialsShape")) {
                    const auto v = body["credentialsShape"].get<std::string>();
                    if (v != "hosted" && v != "core")
                        return reply(400, {{"message", "credentialsShape: hosted or core"}});
                    opts_.credentials_shape = v;
                }
                if (body.contains("passwordStyle")) {
                    const auto v = body["passwordStyle"].get<std::string>();
                    if (v != "plain" && v != "special")
                        return reply(400, {{"message", "passwordStyle: plain or special"}});
                    opts_.password_style = v;
                }
            } catch (const json::exception& e) {
                return reply(400, {{"message", std::string("bad config: ") + e.what()}});
            }
        }
        if (req.method == "POST" || req.method == "GET") {
            return reply(200, {{"hibernatedMs", opts_.hibernated_ms},
                               {"transientMs", opts_.transient_ms},
                               {"credentialsShape", opts_.credentials_shape},
                               {"passwordStyle", opts_.password_style},
                               {"maxBranches", opts_.max_branches},
                               {"rateLimit", opts_.rate_limit},
                               {"faultRate", opts_.fault_rate},
                               {"seed", opts_.seed},
                               {"org", opts_.org},
                               {"project", opts_.project},
                               {"pgHost", pg_host_},
                               {"pgPort", pg_port_},
                               {"memoryMode", !pg_}});
        }
    }

    if (what == "faults") {
        std::lock_guard lock(mu_);
        if (req.method == "POST") {
            if (!body.contains("faults") || !body["faults"].is_array()) {
                return reply(400, {{"message", "expected {\"faults\":[...]}"}});
            }
            std::vector<FaultRule> rules;
            try {
                for (const auto& r : body["faults"]) {
                    FaultRule f;
                    f.method = r.value("method", "");
                    f.path_text = r.value("path", "");
                    f.path = std::regex(f.path_text, std::regex::ECMAScript);
                    f.kind = r.value("kind", "status");
                    if (std::find(kFaultKinds.begin(), kFaultKinds.end(), f.kind) ==
                        kFaultKinds.end()) {
                        return reply(400, {{"message", "unknown fault kind [" + f.kind + "]"}});
                    }
                    f.status = r.value("status", 0);
                    if (r.contains("retryAfter")) {
                        f.retry_after = r["retryAfter"].is_string()
                                            ? r["retryAfter"].get<std::string>()
                                            : std::to_string(r["retryAfter"].get<long>());
                    }
                    f.delay_ms = r.value("delayMs", 0L);
                    f.times = r.value("times", 1L);
                    f.after = r.value("after", 0L);
                    f.field = r.value("field", "");
                    rules.push_back(std::move(f));
                }
            } catch (const std::exception& e) {
                return reply(400, {{"message", std::string("bad fault rule: ") + e.what()}});
            }
            faults_ = std::move(rules);
        }
        if (req.method == "POST" || req.method == "GET") {
            json out = json::array();
            for (const auto& f : faults_) {
                out.push_back({{"method", f.method},
                               {"path", f.path_text},
                               {"kind", f.kind},
                               {"status", f.status},
                               {"retryAfter", f.retry_after},
                               {"delayMs", f.delay_ms},
                               {"times", f.times},
                               {"after", f.after},
                               {"field", f.field},
                               {"seen", f.seen},
                               {"fired", f.fired}});
            }
            return reply(200, {{"faults", out}});
        }
    }

    auto parse_behavior_body = [&body](Behavior& b, int& status, long& count) -> std::string {
        if (!body.contains("behavior") || !body["behavior"].is_string())
            return "behavior is required";
        const auto parsed = parse_behavior(body["behavior"].get<std::string>());
        if (!parsed)
            return "unknown behavior";
        b = *parsed;
        status = 503;
        count = 3;
        if (body.contains("status")) {
            if (!body["status"].is_number_integer())
                return "status must be an integer";
            status = body["status"].get<int>();
        }
        if (body.contains("count")) {
            if (!body["count"].is_number_integer())
                return "count must be an integer";
            count = body["count"].get<long>();
        }
        return {};
    };

    if (what == "next-behavior" && req.method == "POST") {
        Behavior b{};
        int status = 0;
        long count = 0;
        if (auto e = parse_behavior_body(b, status, count); !e.empty())
            return reply(400, {{"message", e}});
        std::lock_guard lock(mu_);
        next_behavior_ = b;
        next_no_credentials_status_ = status;
        next_no_credentials_count_ = count;
        return reply(200, {{"ok", true}});
    }

    if (what == "branches" && parts.size() == 4 && req.method == "POST") {
        const std::string& id = parts[2];
        std::unique_lock lock(mu_);
        Branch* b = find_active(id);
        if (b == nullptr)
            return reply(404, {{"message", "branch [" + id + "] not found"}});
        if (parts[3] == "behavior") {
            Behavior be{};
            int status = 0;
            long count = 0;
            if (auto e = parse_behavior_body(be, status, count); !e.empty())
                return reply(400, {{"message", e}});
            b->behavior = be;
            b->no_credentials_status = status;
            b->no_credentials_left = count;
            b->forced_ready = false;
            b->hibernating = false;
            b->woken.reset();
            return reply(200, admin_json(*b, now));
        }
        if (parts[3] == "mark-ready") {
            cv_.wait_for(lock, std::chrono::seconds(60), [this, &id] {
                Branch* x = find_active(id);
                return x == nullptr || x->db_state != "creating";
            });
            b = find_active(id);
            if (b == nullptr)
                return reply(404, {{"message", "branch [" + id + "] not found"}});
            b->forced_ready = true;
            b->hibernating = false;
            b->behavior = Behavior::normal;
            return reply(200, admin_json(*b, Clock::now()));
        }
    }
    return reply(404, {{"message", "no such admin endpoint"}});
}

void Emulator::shutdown() {
    {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return workers_ == 0; });
    }
    if (!pg_ || !opts_.drop_on_exit)
        return;
    std::vector<std::string> ids;
    {
        std::lock_guard lock(mu_);
        for (const auto& b : branches_) {
            if (b->db_state != "dropped" && b->db_state != "none")
                ids.push_back(b->id);
        }
    }
    // Children first, so no role owns anything elsewhere when dropped.
    std::reverse(ids.begin(), ids.end());
    for (const auto& id : ids)
        drop_branch_db(id);
    std::vector<std::string> left;
    {
        std::lock_guard lock(mu_);
        left.swap(pending_role_drops_);
    }
    for (const auto& r : left) {
        if (auto e = pg_->drop_role(r); !e.empty())
            log_line("xata-emulator: dropping role " + r + ": " + e);
    }
    opts_.drop_on_exit = false;  // once
}

}  // namespace emu
