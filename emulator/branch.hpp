// An emulated branch: its metadata, readiness timeline, PostgreSQL state
// and the behaviours tests give it.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace emu {

using Clock = std::chrono::steady_clock;

enum class Behavior { Normal, Fault, NeverReady, StayHibernated, NoCredentials };

// "normal", "fault", ... as the admin API spells them.
const char* behavior_name(Behavior b);
std::optional<Behavior> parse_behavior(const std::string& s);

struct Branch {
    std::string id;
    std::string name;
    std::optional<std::string> description;
    std::optional<std::string> parent_id;
    bool root = false;
    bool public_access = true;
    std::chrono::system_clock::time_point created_at;
    std::chrono::system_clock::time_point updated_at;
    std::optional<std::chrono::system_clock::time_point> deleted_at;
    Clock::time_point born;
    long hibernated_ms = 0;
    long transient_ms = 0;
    Behavior behavior = Behavior::Normal;
    int no_credentials_status = 503;
    long no_credentials_left = 3;  // 0 with no_credentials: forever
    bool forced_ready = false;
    bool hibernating = false;  // PATCH hibernate:true, or stay_hibernated
    std::optional<Clock::time_point> woken;
    bool scale_to_zero = true;
    long inactivity_minutes = 30;
    std::string database;
    std::string role;
    std::string password;  // the one served by the credentials call
    // Password lag: until password_live the role has another password;
    // the served one is set password_lag_ms after healthy_since.
    long password_lag_ms = 0;
    bool password_live = true;
    std::optional<Clock::time_point> healthy_since;
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

}  // namespace emu
