// The emulator's settings: what the command line sets at start and the
// admin API (`/_emulator/config`) may change at run time.
#pragma once

#include <cstdint>
#include <string>

namespace emu {

// The largest value a duration (ms) and a count may take, on the command
// line and through the admin API: a day, and a billion; more is a typo.
constexpr long k_max_ms = 24L * 3600 * 1000;
constexpr long k_max_count = 1'000'000'000;

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
    long password_lag_ms = 0;
    long max_branches = 100;
    long max_branches_per_hour = 1'000'000;
    bool public_access = true;
    std::uint64_t seed = 1;
    double fault_rate = 0;
    long rate_limit = 0;  // 0: unlimited
    long latency_ms = 0;  // added to every API call's answer: a round trip
    bool drop_on_exit = false;
    bool quiet = false;
};

}  // namespace emu
