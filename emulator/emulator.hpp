// The emulated Xata project: branches and their readiness timeline, auth,
// the API and admin route tables, the request log and the password lag.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "branch.hpp"
#include "branch_json.hpp"
#include "faults.hpp"
#include "http_server.hpp"
#include "options.hpp"
#include "pg_backend.hpp"
#include "util.hpp"

namespace emu {

class Emulator {
  public:
    explicit Emulator(Options opts);
    ~Emulator();
    Emulator(const Emulator&) = delete;
    Emulator& operator=(const Emulator&) = delete;
    Emulator(Emulator&&) = delete;
    Emulator& operator=(Emulator&&) = delete;

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
    // One matched call: the request, {name} path parameters, the parsed
    // body of an admin POST.
    struct Call {
        const HttpRequest& req;
        std::map<std::string, std::string> params;
        nlohmann::json body;
        [[nodiscard]] const std::string& id() const { return params.at("id"); }
    };
    using Handler = Answer (Emulator::*)(const Call&);
    struct Route {
        const char* method;
        std::vector<std::string> pattern;  // path segments; "{id}" matches any
        Handler handler;
    };

    static const std::vector<Route>& api_routes();
    static const std::vector<Route>& admin_routes();
    Answer dispatch(const std::vector<Route>& routes, const HttpRequest& req,
                    const std::vector<std::string>& segments, nlohmann::json body);

    HttpResponse handle_api(const HttpRequest& req);
    HttpResponse handle_admin(const HttpRequest& req);
    std::optional<Answer> authorize(const HttpRequest& req, std::vector<std::string>& rest) const;
    void record(const HttpRequest& req, const HttpResponse& res, std::uint64_t seq,
                const std::string& rid, const std::string& fault_name, long ms);

    // API calls (emulator.cpp).
    Answer project(const Call& c);
    Answer limits(const Call& c);
    Answer list_branches(const Call& c);
    Answer create_branch(const Call& c);
    Answer describe_branch(const Call& c);
    Answer patch_branch(const Call& c);
    Answer delete_branch(const Call& c);
    Answer credentials(const Call& c);

    // Admin calls (admin.cpp).
    Answer admin_health(const Call& c);
    Answer admin_requests(const Call& c);
    Answer admin_clear_requests(const Call& c);
    Answer admin_branches(const Call& c);
    Answer admin_config(const Call& c);
    Answer admin_set_config(const Call& c);
    Answer admin_faults(const Call& c);
    Answer admin_set_faults(const Call& c);
    Answer admin_next_behavior(const Call& c);
    Answer admin_behavior(const Call& c);
    Answer admin_mark_ready(const Call& c);
    Answer admin_password_lag(const Call& c);
    nlohmann::json config_json() const;

    // Callers hold m_mu.
    Branch* find_active(const std::string& id);
    Branch* find_any(const std::string& id);
    StatusView status_of(const Branch& b, Clock::time_point now) const;
    // status_of, and notes the first moment the branch is HEALTHY.
    StatusView observe(Branch& b, Clock::time_point now);
    nlohmann::json json_of(const Branch& b, BranchShape shape, Clock::time_point now) const;
    std::string new_branch_id();
    std::string db_name_for(const std::string& name, const std::string& id) const;
    std::string connection_string(const Branch& b, bool core_shape) const;
    std::string new_password();

    std::string request_id();
    void start_child_work(const std::string& id);
    void drop_branch_db(const std::string& id);
    // The password lag's ticker: sets served passwords that are due.
    void tick_passwords();
    void log_line(const std::string& line) const;

    Options m_opts;
    FaultLayer m_faults;
    std::unique_ptr<PgBackend> m_pg;
    std::string m_pg_host;
    int m_pg_port = 0;
    std::string m_seed_sql;

    mutable std::mutex m_mu;
    std::condition_variable m_cv;
    std::vector<std::unique_ptr<Branch>> m_branches;
    std::optional<Behavior> m_next_behavior;
    int m_next_no_credentials_status = 503;  // with m_next_behavior no_credentials
    long m_next_no_credentials_count = 3;
    nlohmann::json m_requests = nlohmann::json::array();
    std::uint64_t m_seq = 0;
    Rng m_id_rng;
    std::deque<Clock::time_point> m_recent_creates;  // the last hour's
    std::vector<std::string> m_pending_role_drops;
    int m_workers = 0;
    bool m_stopping = false;
    std::thread m_ticker;
    std::chrono::system_clock::time_point m_project_created;
};

}  // namespace emu
