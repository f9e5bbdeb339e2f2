#include "settings.hpp"

#include <algorithm>
#include <iterator>
#include <map>
#include <mutex>

#include "xbranch/error.hpp"
#include "xbranch/naming.hpp"
#include "xbranch/redact.hpp"

namespace xbranch::cli {
namespace {

constexpr std::string_view k_sslmodes[] = {"disable",   "allow",       "prefer", "require",
                                           "verify-ca", "verify-full", "none"};

void check_secret(const SettingRow& row, Setting& s) {
    const std::string_view name =
        s.origin.rfind("env ", 0) == 0 ? std::string_view(s.origin).substr(4) : row.name;
    s.value = validate_secret_env(name, std::move(s.value));
}

void check_sslmode(const SettingRow&, Setting& s) {
    if (!valid_sslmode(s.value)) {
        throw Error(ErrorKind::Usage,
                    "invalid sslmode " + quote_input(s.value) + " (" + s.origin + ")")
            .with_hint(
                "use disable, allow, prefer, require, verify-ca, verify-full, or none to leave "
                "it out");
    }
}

// A database name goes into the URL path and a libpq parameter: printable
// ASCII without the URL's delimiters, at most PostgreSQL's 63 bytes.
void check_database(const SettingRow&, Setting& s) {
    const bool ok =
        !s.value.empty() && s.value.size() <= 63 &&
        s.value.find_first_of("/?#%@:\\'\" ") == std::string::npos &&
        std::all_of(s.value.begin(), s.value.end(), [](char c) { return c > 0x20 && c < 0x7f; });
    if (!ok) {
        throw Error(ErrorKind::Usage,
                    "invalid database name " + quote_input(s.value) + " (" + s.origin + ")")
            .with_hint("use 1-63 printable characters without spaces, quotes or / ? # % @ :");
    }
}

// Ids go into the URL path and come back in the API's error messages: one
// token of printable ASCII, one path step, so nothing invisible reaches a
// request or a log. Whitespace at the ends is trimmed as for the keys.
void check_api_id(const SettingRow& row, Setting& s) {
    s.value = trim_space(s.value);
    if (s.value.empty()) {
        return;  // only whitespace: as good as unset
    }
    const bool ok =
        s.value.size() <= 128 &&
        std::all_of(s.value.begin(), s.value.end(), [](char c) { return c > 0x20 && c < 0x7f; });
    if (!ok) {
        throw Error(ErrorKind::Usage, "invalid " + std::string(row.name) + " " +
                                          quote_input(s.value) + " (" + s.origin +
                                          "): use the id as the console shows it, without spaces "
                                          "or control characters");
    }
    std::string problem;
    if (!check_path_segment(s.value, problem)) {
        throw Error(ErrorKind::Usage,
                    "invalid " + std::string(row.name) + " " + quote_input(s.value) + " (" +
                        s.origin + "): it goes into the API's URL path as one step, and " + problem)
            .with_hint("use the id as the console shows it");
    }
}

void check_log_format(const SettingRow&, Setting& s) {
    if (s.value != "text" && s.value != "json") {
        throw Error(ErrorKind::Usage, "invalid log format " + quote_input(s.value) + " (" +
                                          s.origin + "): use text or json");
    }
}

void check_prefix(const SettingRow& row, Setting& s) {
    if (valid_prefix(s.value)) {
        return;
    }
    if (valid_prefix(s.value + "-")) {
        throw Error(ErrorKind::Usage, "invalid prefix " + quote_input(s.value) + " (" + s.origin +
                                          "): a prefix must end with '-', or it also matches "
                                          "branches xbranch never made")
            .with_hint("e.g. " +
                       (s.origin.rfind("env ", 0) == 0
                            ? s.origin.substr(4) + "=" + s.value + "-"
                            : std::string(row.flag) + " " + s.value + "-") +
                       " (the default is " + std::string(k_default_prefix) + ")");
    }
    throw Error(ErrorKind::Usage, "invalid prefix " + quote_input(s.value) + " (" + s.origin +
                                      "): use 2-20 characters a-z, 0-9 and '-', starting with a "
                                      "letter and ending with '-' (e.g. " +
                                      std::string(k_default_prefix) + ")");
}

void check_timeout(const SettingRow& row, Setting& s) {
    const std::string_view what =
        s.origin.rfind("env ", 0) == 0 ? std::string_view(s.origin).substr(4) : row.flag;
    const DurationRange& range = duration_range(row.flag);
    (void)checked_duration(what, s.value, range.min, range.max);
}

std::mutex g_mutex;
std::map<SettingId, Setting>& resolved() {
    static std::map<SettingId, Setting> m;
    return m;
}

Setting pick(const SettingRow& row, const Environment& env,
             const std::optional<std::string>& flag) {
    if (flag && !flag->empty()) {
        return {*flag, "flag " + std::string(row.flag), row.secret};
    }
    for (const auto& name : row.env) {
        if (auto v = env.get(std::string(name))) {
            return {*v, "env " + std::string(name), row.secret};
        }
    }
    if (row.fallback) {
        return {std::string(*row.fallback), "default", row.secret};
    }
    return {"", "unset", row.secret};
}

}  // namespace

const std::vector<SettingRow>& setting_rows() {
    using Id = SettingId;
    // Order: the official names first, then legacy spellings, then aliases
    // (XATA_ORG_ID is what Signadot's tutorial Secret holds).
    static const std::vector<SettingRow> k_rows = {
        {Id::ApiKey, "api key", "", {"XATA_API_KEY"}, std::nullopt, true, check_secret},
        {Id::BaseUrl, "base url", "--base-url", {"XATA_API_BASE_URL"}, "https://api.xata.tech"},
        {Id::Organization,
         "organization",
         "--org",
         {"XATA_ORGANIZATION_ID", "XATA_ORGANIZATIONID", "XATA_ORG_ID"},
         std::nullopt,
         false,
         check_api_id},
        {Id::Project,
         "project",
         "--project",
         {"XATA_PROJECT_ID", "XATA_PROJECTID"},
         std::nullopt,
         false,
         check_api_id},
        {Id::CaCert,
         "ca file",
         "--cacert",
         {"CURL_CA_BUNDLE", "SSL_CERT_FILE"},
         std::nullopt,
         false,
         nullptr,
         "system store"},
        {Id::ConnectTimeout,
         "connect timeout",
         "--connect-timeout",
         {},
         "10s",
         false,
         check_timeout},
        {Id::RequestTimeout,
         "request timeout",
         "--request-timeout",
         {},
         "30s",
         false,
         check_timeout},
        {Id::ParentId,
         "parent id",
         "",
         {"XATA_BRANCH_ID", "XATA_BRANCHID"},
         std::nullopt,
         false,
         check_api_id},
        {Id::ParentName, "parent", "--parent", {"XATA_BRANCH_NAME", "XATA_BRANCHNAME"}, "main"},
        {Id::Prefix,
         "prefix",
         "--prefix",
         {"XBRANCH_PREFIX"},
         k_default_prefix,
         false,
         check_prefix},
        {Id::Sandbox, "sandbox", "--sandbox", {"SIGNADOT_SANDBOX_NAME"}},
        {Id::SandboxId,
         "sandbox id",
         "--sandbox-id",
         {"SIGNADOT_SANDBOX_ID", "SIGNADOT_SANDBOX_ROUTING_KEY"}},
        {Id::Resource, "resource", "--resource", {"SIGNADOT_RESOURCE_NAME"}},
        {Id::SslMode, "sslmode", "--sslmode", {"XBRANCH_SSLMODE"}, "require", false, check_sslmode},
        {Id::Database,
         "database",
         "--database",
         {"XATA_DATABASE_NAME"},
         std::nullopt,
         false,
         check_database,
         "the credentials' database, else xata"},
        {Id::LogFormat,
         "log format",
         "--log-format",
         {"XBRANCH_LOG_FORMAT"},
         "text",
         false,
         check_log_format},
        {Id::NoColor, "no color", "--no-color", {"NO_COLOR"}},
        {Id::Term, "terminal", "", {"TERM"}},
        {Id::SignadotApiKey,
         "signadot api key",
         "",
         {"SIGNADOT_API_KEY"},
         std::nullopt,
         true,
         check_secret},
        {Id::SignadotOrg, "signadot org", "", {"SIGNADOT_ORG"}},
        {Id::SignadotApiUrl,
         "signadot api url",
         "",
         {"SIGNADOT_API_URL"},
         "https://api.signadot.com"},
    };
    return k_rows;
}

std::string setting_help(std::string_view text, std::string_view flag,
                         std::initializer_list<SettingId> ids) {
    std::vector<std::string> parts;
    std::string env;
    std::string fallback;
    for (const SettingId id : ids) {
        const SettingRow& row = setting_row(id);
        for (const auto name : row.env) {
            env += (env.empty() ? "env " : ", ") + std::string(name);
        }
        if (!flag.empty() && row.flag == flag) {
            fallback = std::string(!row.default_help.empty() ? row.default_help
                                                             : row.fallback.value_or(""));
        }
    }
    std::string out(text);
    if (!env.empty() || !fallback.empty()) {
        out += " [" + env + (env.empty() || fallback.empty() ? "" : ", ") +
               (fallback.empty() ? "" : "default " + fallback) + "]";
    }
    return out;
}

const SettingRow& setting_row(SettingId id) {
    for (const auto& row : setting_rows()) {
        if (row.id == id) {
            return row;
        }
    }
    throw Error(ErrorKind::Internal, "setting without a row");
}

Setting resolve(SettingId id, const Environment& env, const std::optional<std::string>& flag) {
    const SettingRow& row = setting_row(id);
    if (flag && flag->empty() && row.check == check_timeout) {
        // `--request-timeout ""` (a template's unset variable) silently
        // meant the default; a duration flag given must hold a duration.
        throw Error(ErrorKind::Usage, std::string(row.flag) + " is empty: give a duration from " +
                                          duration_range_text(row.flag))
            .with_hint("e.g. " + std::string(row.flag) + " 30s, or leave the flag out (default " +
                       std::string(row.fallback.value_or("none")) + ")");
    }
    Setting s = pick(row, env, flag);
    if (row.check != nullptr && !s.empty()) {
        row.check(row, s);
    }
    if (s.secret && !s.empty()) {
        register_secret(s.value);
    }
    std::lock_guard lock(g_mutex);
    resolved()[id] = s;
    return s;
}

namespace {

// A value as -v shows it: secrets masked, also a password in a URL
// (user:password@host), and every control or non-ASCII byte escaped, since
// the value came from the environment or the command line.
std::string shown_value(const std::string& value) {
    std::string text = redact(value);
    const std::size_t scheme = text.find("://");
    if (scheme != std::string::npos) {
        const std::size_t start = scheme + 3;
        const std::size_t end = text.find_first_of("/?#", start);
        const std::size_t at =
            text.substr(start, end == std::string::npos ? std::string::npos : end - start)
                .rfind('@');
        if (at != std::string::npos) {
            text.replace(start, at, k_mask);
        }
    }
    return escape_input(text);
}

}  // namespace

std::vector<std::string> describe_settings(const Environment& env) {
    std::map<SettingId, Setting> known;
    {
        std::lock_guard lock(g_mutex);
        known = resolved();
    }
    std::vector<std::string> out;
    for (const auto& row : setting_rows()) {
        auto it = known.find(row.id);
        const Setting s = it != known.end() ? it->second : pick(row, env, std::nullopt);
        const std::string value =
            s.empty() ? "(unset)" : (s.secret ? std::string(k_mask) : shown_value(s.value));
        out.push_back(std::string(row.name) + " = " + value + " (" + s.origin + ")");
    }
    return out;
}

void forget_resolved_settings() {
    std::lock_guard lock(g_mutex);
    resolved().clear();
}

std::string validate_secret_env(std::string_view name, std::string value) {
    value = trim_space(value);
    if (value.rfind("Bearer ", 0) == 0 || value.rfind("bearer ", 0) == 0) {
        throw Error(ErrorKind::Usage, std::string(name) + " starts with \"Bearer \"")
            .with_hint("set it to the key alone; xbranch adds the Authorization header itself");
    }
    for (char c : value) {
        const auto u = static_cast<unsigned char>(c);
        if (u == ' ' || u >= 0x80) {
            // A key is one token of ASCII: a space or a non-ASCII byte would be
            // sent as-is and answered 401, far from the cause.
            throw Error(ErrorKind::Usage,
                        std::string(name) + " contains a space or a non-ASCII character")
                .with_hint("set it to the key alone, as the console shows it");
        }
        if (u < 0x20 || u == 0x7f) {
            // Never the value: it is a secret, and the character is the problem.
            throw Error(ErrorKind::Usage, std::string(name) +
                                              " contains a control character (a line break or "
                                              "similar inside the value)")
                .with_hint(
                    "set it to the key alone, without line breaks; a Secret made from a "
                    "file may hold more than one line");
        }
    }
    return value;
}

bool valid_sslmode(std::string_view mode) {
    return std::find(std::begin(k_sslmodes), std::end(k_sslmodes), mode) != std::end(k_sslmodes);
}

bool early_json_logs(int argc, const char* const* argv, const Environment& env) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "--") {
            break;
        }
        if (a == "--log-format" && i + 1 < argc) {
            return std::string_view(argv[i + 1]) == "json";
        }
        if (a.rfind("--log-format=", 0) == 0) {
            return a.substr(13) == "json";
        }
    }
    return env.get("XBRANCH_LOG_FORMAT").value_or("") == "json";
}

}  // namespace xbranch::cli
