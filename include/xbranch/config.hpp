// Where configuration comes from (the environment, behind an interface for
// tests) and the plain values the core runs with. Which flag or variable
// gives a value is the CLI's business (src/cli/settings.hpp).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace xbranch {

class Environment {
  public:
    virtual ~Environment() = default;
    // nullopt when unset; an empty value counts as unset.
    virtual std::optional<std::string> get(const std::string& name) const = 0;
};

class ProcessEnvironment final : public Environment {
  public:
    std::optional<std::string> get(const std::string& name) const override;
};

class MapEnvironment final : public Environment {
  public:
    MapEnvironment() = default;
    explicit MapEnvironment(std::map<std::string, std::string> values)
        : m_values(std::move(values)) {}
    std::optional<std::string> get(const std::string& name) const override;
    void set(const std::string& name, std::string value) { m_values[name] = std::move(value); }

  private:
    std::map<std::string, std::string> m_values;
};

// What the API client and transport need, as plain values.
struct ApiConfig {
    std::string api_key;
    std::string base_url;
    std::string organization;
    std::string project;
    std::string ca_file;
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds request_timeout{30000};
};

// An http(s) base URL taken apart; see check_base_url.
struct BaseUrl {
    bool https = true;
    std::string host;  // without brackets for IPv6
    int port = 0;      // 0: the scheme's default
    bool loopback = false;
};

// Parses an API base URL: http or https, a host, an optional port 1-65535,
// an optional path; no spaces or control characters anywhere. On failure
// returns nullopt and sets `problem` to a short reason.
std::optional<BaseUrl> check_base_url(std::string_view url, std::string& problem);

// The value without ASCII whitespace (space, tab, CR, LF, VT, FF) at either
// end: a Kubernetes Secret made from a file ends in the file's newline. Keys
// and ids are trimmed alike.
std::string trim_space(std::string_view value);

// Whether an id (organization, project, branch) is one safe step of a URL
// path: not empty, not "." or ".." (percent-encoding keeps dots, so the
// server would climb a level), and without / \ ? # % (which end a segment
// or change its meaning once decoded). On failure sets `problem`.
bool check_path_segment(std::string_view id, std::string& problem);

}  // namespace xbranch
