// The fault layer: injected faults (explicit rules, seeded random faults)
// and the rate limit, decided per API call apart from what the call does.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "http_server.hpp"
#include "util.hpp"

namespace emu {

struct FaultRule {
    std::string method;  // empty: any
    std::string path_text;
    std::regex path;
    std::string kind;
    int status = 0;
    std::string message;  // status kind: the error message; "[ID]" is the branch id
    std::string retry_after;
    long delay_ms = 0;
    long times = 1;  // 0: always
    long after = 0;
    std::string field;  // missing_field: which top-level field to drop
    long seen = 0;
    long fired = 0;
};

// What the layer decided for one call.
struct FaultDecision {
    bool rate_limited = false;
    bool rate_limit_retry_after = false;
    std::optional<FaultRule> rule;

    // True when the call is not performed (rate limit, status, html,
    // drop_before): the answer comes from the layer alone.
    [[nodiscard]] bool replaces_call() const;
    // The name in the request log: the kind, "rate_limit", or empty.
    [[nodiscard]] std::string name() const;
};

class FaultLayer {
  public:
    FaultLayer(std::uint64_t seed, double fault_rate, long rate_limit);

    // Counts the call against every matching rule and the rate window.
    FaultDecision decide(const std::string& method, const std::string& path,
                         std::chrono::steady_clock::time_point now);

    // The answer of a call that replaces_call(); path names the branch id.
    static void answer_instead(const FaultDecision& d, const std::string& method,
                               const std::string& path, const std::string& request_id,
                               HttpResponse& res);
    // Spoils the performed call's answer (drop_after, delay, malformed,
    // truncated, missing_field); body is the answer's JSON (null for 204).
    static void spoil(const FaultRule& rule, const std::string& request_id, nlohmann::json body,
                      HttpResponse& res);

    // Replaces the rule list from {"faults":[...]}; an error text or empty.
    std::string set_rules(const nlohmann::json& body);
    [[nodiscard]] nlohmann::json rules_json() const;

    void set_fault_rate(double rate);
    void set_rate_limit(long per_second);
    void set_seed(std::uint64_t seed);
    [[nodiscard]] double fault_rate() const;
    [[nodiscard]] long rate_limit() const;
    [[nodiscard]] std::uint64_t seed() const;

  private:
    std::optional<FaultRule> random_fault();

    mutable std::mutex m_mu;
    std::vector<FaultRule> m_rules;
    std::uint64_t m_seed;
    double m_fault_rate;
    long m_rate_limit;  // 0: unlimited
    Rng m_fault_rng;
    Rng m_rate_rng;
    std::deque<std::chrono::steady_clock::time_point> m_window;
};

}  // namespace emu
