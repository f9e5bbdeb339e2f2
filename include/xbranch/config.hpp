// Configuration with explicit precedence: defaults < environment < flags.
// Every value remembers where it came from, for --verbose.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

struct Setting {
    std::string value;
    std::string origin;  // "flag --org", "env XATA_ORGANIZATION_ID", "default"
    bool secret = false;

    bool empty() const { return value.empty(); }
};

// Picks the first of: the flag, then each env var in order, then the default.
Setting resolve_setting(const std::optional<std::string>& flag, std::string_view flag_name,
                        const Environment& env, const std::vector<std::string>& env_names,
                        std::optional<std::string> fallback = std::nullopt, bool secret = false);

// Flags shared by every command that talks to the API.
struct GlobalFlags {
    std::optional<std::string> base_url;
    std::optional<std::string> organization;
    std::optional<std::string> project;
    std::optional<std::string> cacert;
    double connect_timeout_s = 10;
    double request_timeout_s = 30;
    int verbosity = 0;  // -1 quiet, 0 normal, 1+ verbose
    std::string log_format = "text";
    bool no_color = false;
};

struct ApiConfig {
    Setting api_key;
    Setting base_url;
    Setting organization;
    Setting project;
    Setting cacert;
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds request_timeout{30000};
};

// Throws Error(Usage) naming what is missing and how to set it.
ApiConfig resolve_api_config(const GlobalFlags& flags, const Environment& env);

// Flags that say which branch (create, delete, status, url).
struct IdentityFlags {
    std::optional<std::string> sandbox;
    std::optional<std::string> sandbox_id;
    std::optional<std::string> resource;
    std::optional<std::string> prefix;
    std::optional<std::string> branch;
    std::optional<std::string> branch_id;
    std::optional<std::string> parent;
};

struct ParentRef {
    Setting setting;
    bool is_id = false;  // an id needs no lookup; a name is resolved by listing
};

struct BranchTarget {
    Setting prefix;
    Setting sandbox;
    Setting sandbox_id;
    Setting resource;
    Setting name;       // derived or --branch; empty when only an id is known
    Setting branch_id;  // --branch-id (delete, status, url)
    ParentRef parent;
};

// Throws Error(Usage) when there is nothing to derive a name from and
// `require_name` is set, or when a name or prefix is invalid.
BranchTarget resolve_branch_target(const IdentityFlags& flags, const Environment& env,
                                   bool require_name);

// Xata branch ids: 26 chars of lowercase base32hex starting with a letter.
bool looks_like_branch_id(std::string_view text);

// "10m", "90s", "1500ms", "1h", "45" (seconds). nullopt when unreadable.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// Lines "name = value (origin)" with secrets masked, for --verbose.
std::vector<std::string> describe_settings(
    const std::vector<std::pair<std::string, Setting>>& settings);

}  // namespace xbranch
