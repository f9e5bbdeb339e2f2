// The emulated Xata project: branches, their readiness timeline, auth,
// injected faults, rate limiting, the request log and the admin API.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "http_server.hpp"
#include "pg_backend.hpp"
#include "util.hpp"

namespace emu {

struct Options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    std::string port_file;
    std::string api_key;
    std::string readonly_key;
    std::string org = "emuorg";
    std::string project = "prj_emulator00000000000000000";
    std::string root_branch = "main";
    std::string pg;  // empty: memory mode
    std::string pg_public_host;
    int pg_public_port = 0;
    std::string db_prefix = "emu_";
    std::string seed_sql_file;
    std::string credentials_shape = "hosted";
    std::string password_style = "plain";
    long hibernated_ms = 100;
    long transient_ms = 200;
    long max_branches = 100;
    std::uint64_t seed = 1;
    double fault_rate = 0;
    long rate_limit = 0;  // 0: unlimited
    bool drop_on_exit = false;
    bool quiet = false;
};

enum class Behavior { normal, fault, never_ready, stay_hibernated, no_credentials };

struct FaultRule {
    std::string method;  // empty: any
    std::string path_text;
    std::regex path;
    std::string kind;
    int status = 0;
    std::string retry_after;
    long delay_ms = 0;
    long times = 1;  // 0: always
    long after = 0;
    std::string field;  // missing_field: which top-level field to drop
    long seen = 0;
    long fired = 0;
};

using Clock = std::chrono::steady_clock;

struct Branch {
    std::string id;
    std::string name;
    std::optional<std::string> description;
    std::optional<std::string> parent_id;
    bool root = false;
    std::chrono::system_clock::time_point created_at;
    std::chrono::system_clock::time_point updated_at;
    std::optional<std::chrono::system_clock::time_point> deleted_at;
    Clock::time_point born;
    long hibernated_ms = 0;
    long transient_ms = 0;
    Behavior behavior = Behavior::normal;
    int no_credentials_status = 503;
    long no_credentials_left = 3;  // 0 with no_credentials: forever
    bool forced_ready = false;
    bool hibernating = false;  // PATCH hibernate:true, or stay_hibernated
    std::optional<Clock::time_point> woken;
    bool scale_to_zero = true;
    long inactivity_minutes = 30;
    std::string database;
    std::string role;
    std::string password;
    // PostgreSQL work: "creating", "ready", "failed", "dropped", "none"
    std::string db_state = "none";
    std::string db_error;
    bool drop_requested = false;
    // Copies from this branch's database, and its drop, take turns.
    std::shared_ptr<std::mutex> copy_lock = std::make_shared<std::mutex>();
};

struct StatusView {
    std::string status_type;
    std::string phase;
    int instance_count = 0;
    int ready_count = 0;
};

class Emulator {
  public:
    explicit Emulator(Options opts);
    ~Emulator();

    // Creates the root branch (and its database); false with a message.
    bool init(std::string& error);
    HttpResponse handle(const HttpRequest& req);
    // Waits for background database work; drops databases if asked to.
    void shutdown();

  private:
    struct Answer {
        int status = 200;
        nlohmann::json body;  // null: no body (204)
        std::vector<std::pair<std::string, std::string>> headers;
    };

    HttpResponse handle_admin(const HttpRequest& req);
    HttpResponse handle_api(const HttpRequest& req);
    Answer route(const HttpRequest& req, const std::string& request_id, bool& performed);
    Answer list_branches();
    Answer create_branch(const HttpRequest& req);
    Answer describe_branch(const std::string& id);
    Answer patch_branch(const std::string& id, const HttpRequest& req);
    Answer delete_branch(const std::string& id);
    Answer credentials(const std::string& id, const HttpRequest& req);
    Answer project();

    // Callers hold mu_.
    Branch* find_active(const std::string& id);
    StatusView status_of(const Branch& b, Clock::time_point now) const;
    nlohmann::json short_json(const Branch& b) const;
    nlohmann::json list_json(const Branch& b) const;
    nlohmann::json full_json(const Branch& b, Clock::time_point now) const;
    nlohmann::json admin_json(const Branch& b, Clock::time_point now) const;
    std::string new_branch_id();
    std::string db_name_for(const std::string& name, const std::string& id) const;
    std::string connection_string(const Branch& b, bool core_shape) const;
    std::string request_id();

    void start_child_work(const std::string& id);
    void drop_branch_db(const std::string& id);
    void log_line(const std::string& line) const;

    Options opts_;
    std::unique_ptr<PgBackend> pg_;
    std::string pg_host_;
    int pg_port_ = 0;
    std::string seed_sql_;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<Branch>> branches_;
    std::optional<Behavior> next_behavior_;
    int next_no_credentials_status_ = 503;  // with next_behavior_ no_credentials
    long next_no_credentials_count_ = 3;
    std::vector<FaultRule> faults_;
    nlohmann::json requests_ = nlohmann::json::array();
    std::uint64_t seq_ = 0;
    Rng id_rng_;
    Rng fault_rng_;
    Rng rate_rng_;
    std::deque<Clock::time_point> window_;
    std::vector<std::string> pending_role_drops_;
    int workers_ = 0;
    std::chrono::system_clock::time_point project_created_;
};

}  // namespace emu
