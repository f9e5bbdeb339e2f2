// Every setting the tool reads, in one table: its flag, its environment
// variables in order, its default, whether it is secret, how it is checked.
// The user's words (flag and variable names) live here and nowhere below.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "duration.hpp"
#include "xbranch/config.hpp"

namespace xbranch::cli {

struct Setting {
    std::string value;
    std::string origin;  // "flag --org", "env XATA_ORGANIZATION_ID", "default", "unset"
    bool secret = false;

    bool empty() const { return value.empty(); }
};

enum class SettingId {
    ApiKey,
    BaseUrl,
    Organization,
    Project,
    CaCert,
    ConnectTimeout,
    RequestTimeout,
    ParentId,
    ParentName,
    Prefix,
    Sandbox,
    SandboxId,
    Resource,
    SslMode,
    Database,
    LogFormat,
    NoColor,
    Term,
    SignadotApiKey,
    SignadotOrg,
    SignadotApiUrl,
};

struct SettingRow;
// Checks (and may normalize) a resolved value; throws Error(Usage) naming
// the origin, never a secret's value.
using SettingCheck = void (*)(const SettingRow& row, Setting& setting);

struct SettingRow {
    SettingId id;
    std::string_view name;  // shown by -v
    std::string_view flag;  // "" when there is none
    std::vector<std::string_view> env{};
    std::optional<std::string_view> fallback = std::nullopt;
    bool secret = false;
    SettingCheck check = nullptr;
    std::string_view default_help{};  // the default in --help, when not the fallback itself
};

const std::vector<SettingRow>& setting_rows();

// An option's help from the table: "TEXT [env A, B, default D]", with every
// environment variable of `ids` in order and the default of the row whose
// flag is `flag` (its default_help, else its fallback); empty parts left out.
std::string setting_help(std::string_view text, std::string_view flag,
                         std::initializer_list<SettingId> ids);
const SettingRow& setting_row(SettingId id);

// The flag (when given and not empty), else each env var in order, else
// the default; then the row's check. Remembered for describe_settings().
Setting resolve(SettingId id, const Environment& env,
                const std::optional<std::string>& flag = std::nullopt);

// "name = value (origin)" for every row, secrets masked: the value this run
// resolved, or what the environment alone gives for rows it did not use.
std::vector<std::string> describe_settings(const Environment& env);
void forget_resolved_settings();  // tests

// A secret from the environment: surrounding whitespace is trimmed (a
// Kubernetes Secret made from a file ends in a newline); any other control
// character (CR LF would inject HTTP headers) is exit 2 naming `name`,
// never the value.
std::string validate_secret_env(std::string_view name, std::string value);

// Libpq's sslmode values plus "none" (leave the parameter out).
bool valid_sslmode(std::string_view mode);

// The durations (parse, print, ranges): duration.hpp.

// Flags shared by every command that talks to the API.
struct GlobalFlags {
    std::optional<std::string> base_url;
    std::optional<std::string> organization;
    std::optional<std::string> project;
    std::optional<std::string> cacert;
    std::optional<std::string> connect_timeout;
    std::optional<std::string> request_timeout;
    bool allow_insecure_http = false;
    int verbosity = 0;  // -1 quiet, 0 normal, 1+ verbose
    std::optional<std::string> log_format;
    bool no_color = false;
};

// The API settings of one run, with origins; plain() is what the core gets.
struct ApiSettings {
    Setting api_key;
    Setting base_url;
    Setting organization;
    Setting project;
    Setting cacert;
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds request_timeout{30000};

    ApiConfig plain() const;
};

// Throws Error(Usage) naming what is missing or malformed and how to set it.
// (This and resolve_branch_target: targets.cpp.)
ApiSettings resolve_api_config(const GlobalFlags& flags, const Environment& env);

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

// The log format before CLI11 parses anything (so flag-parse errors can be
// JSON too): --log-format VALUE / --log-format=VALUE in argv, else
// XBRANCH_LOG_FORMAT; "text" when neither says "json".
bool early_json_logs(int argc, const char* const* argv, const Environment& env);

}  // namespace xbranch::cli
