#include "xbranch/config.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "xbranch/error.hpp"
#include "xbranch/naming.hpp"
#include "xbranch/redact.hpp"

namespace xbranch {

std::optional<std::string> ProcessEnvironment::get(const std::string& name) const {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr || *v == '\0') {
        return std::nullopt;
    }
    return std::string(v);
}

std::optional<std::string> MapEnvironment::get(const std::string& name) const {
    auto it = m_values.find(name);
    if (it == m_values.end() || it->second.empty()) {
        return std::nullopt;
    }
    return it->second;
}

Setting resolve_setting(const std::optional<std::string>& flag, std::string_view flag_name,
                        const Environment& env, const std::vector<std::string>& env_names,
                        std::optional<std::string> fallback, bool secret) {
    if (flag && !flag->empty()) {
        return {*flag, "flag " + std::string(flag_name), secret};
    }
    for (const auto& name : env_names) {
        if (auto v = env.get(name)) {
            return {*v, "env " + name, secret};
        }
    }
    if (fallback) {
        return {*fallback, "default", secret};
    }
    return {"", "unset", secret};
}

namespace {

std::chrono::milliseconds seconds_to_ms(double s, const char* flag) {
    if (!(s > 0) || s > 86400) {
        throw Error(ErrorKind::Usage, std::string(flag) + " must be between 0 and 86400 seconds");
    }
    return std::chrono::milliseconds{static_cast<long long>(std::llround(s * 1000))};
}

}  // namespace

ApiConfig resolve_api_config(const GlobalFlags& flags, const Environment& env) {
    ApiConfig c;
    c.api_key = resolve_setting(std::nullopt, "", env, {"XATA_API_KEY"}, std::nullopt, true);
    c.base_url = resolve_setting(flags.base_url, "--base-url", env, {"XATA_API_BASE_URL"},
                                 std::string("https://api.xata.tech"));
    c.organization = resolve_setting(flags.organization, "--org", env,
                                     {"XATA_ORGANIZATION_ID", "XATA_ORGANIZATIONID"});
    c.project =
        resolve_setting(flags.project, "--project", env, {"XATA_PROJECT_ID", "XATA_PROJECTID"});
    c.cacert = resolve_setting(flags.cacert, "--cacert", env, {"CURL_CA_BUNDLE", "SSL_CERT_FILE"});
    c.connect_timeout = seconds_to_ms(flags.connect_timeout_s, "--connect-timeout");
    c.request_timeout = seconds_to_ms(flags.request_timeout_s, "--request-timeout");

    if (c.api_key.empty()) {
        throw Error(ErrorKind::Usage, "XATA_API_KEY is not set")
            .with_hint(
                "create an API key in the Xata console (Account settings > API keys) and "
                "export XATA_API_KEY=...; it is read only from the environment, never from a flag");
    }
    register_secret(c.api_key.value);
    if (c.organization.empty()) {
        throw Error(ErrorKind::Usage, "no organization: pass --org ID or set XATA_ORGANIZATION_ID")
            .with_hint("the id is in the Xata console URL and in `xata status`");
    }
    if (c.project.empty()) {
        throw Error(ErrorKind::Usage, "no project: pass --project ID or set XATA_PROJECT_ID")
            .with_hint("project ids look like prj_...");
    }
    const auto& url = c.base_url.value;
    if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0) {
        throw Error(
            ErrorKind::Usage,
            "the API base URL must start with https:// (or http:// for a local emulator): '" + url +
                "'");
    }
    return c;
}

bool looks_like_branch_id(std::string_view text) {
    if (text.size() != 26 || !(text[0] >= 'a' && text[0] <= 'v')) {
        return false;
    }
    for (char c : text) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'v'))) {
            return false;
        }
    }
    return true;
}

BranchTarget resolve_branch_target(const IdentityFlags& flags, const Environment& env,
                                   bool require_name) {
    BranchTarget t;
    t.prefix = resolve_setting(flags.prefix, "--prefix", env, {"XBRANCH_PREFIX"},
                               std::string(k_default_prefix));
    t.sandbox = resolve_setting(flags.sandbox, "--sandbox", env, {"SIGNADOT_SANDBOX_NAME"});
    t.sandbox_id = resolve_setting(flags.sandbox_id, "--sandbox-id", env,
                                   {"SIGNADOT_SANDBOX_ID", "SIGNADOT_SANDBOX_ROUTING_KEY"});
    t.resource = resolve_setting(flags.resource, "--resource", env, {"SIGNADOT_RESOURCE_NAME"});
    t.branch_id = resolve_setting(flags.branch_id, "--branch-id", env, {});

    // The parent: an explicit id needs no lookup; a name is resolved by listing.
    if (flags.parent && !flags.parent->empty()) {
        t.parent.setting = {*flags.parent, "flag --parent"};
        t.parent.is_id = looks_like_branch_id(*flags.parent);
    } else if (auto id =
                   resolve_setting(std::nullopt, "", env, {"XATA_BRANCH_ID", "XATA_BRANCHID"});
               !id.empty()) {
        t.parent.setting = id;
        t.parent.is_id = true;
    } else {
        t.parent.setting = resolve_setting(
            std::nullopt, "", env, {"XATA_BRANCH_NAME", "XATA_BRANCHNAME"}, std::string("main"));
        t.parent.is_id = false;
    }

    if (!valid_prefix(t.prefix.value)) {
        throw Error(ErrorKind::Usage,
                    "invalid prefix '" + t.prefix.value + "' (" + t.prefix.origin +
                        "): use 1-20 characters a-z, 0-9 and '-', starting with a letter");
    }
    if (flags.branch && !flags.branch->empty()) {
        if (!valid_branch_name(*flags.branch)) {
            throw Error(ErrorKind::Usage, "invalid branch name '" + *flags.branch +
                                              "': use 1-63 characters a-z, A-Z, 0-9, '-', '_' and "
                                              "'.', starting with a letter or digit");
        }
        t.name = {*flags.branch, "flag --branch"};
    } else if (!t.sandbox.empty()) {
        SandboxIdentity id{t.sandbox.value, t.sandbox_id.value, t.resource.value};
        t.name = {derive_branch_name(id, t.prefix.value),
                  "derived from " + t.sandbox.origin +
                      (t.sandbox_id.empty() ? "" : " and " + t.sandbox_id.origin) +
                      (t.resource.empty() ? "" : " and " + t.resource.origin)};
    } else if (require_name) {
        throw Error(ErrorKind::Usage,
                    "no branch to work on: pass --sandbox NAME (or set SIGNADOT_SANDBOX_NAME), or "
                    "--branch NAME")
            .with_hint(
                "inside a Signadot plugin step SIGNADOT_SANDBOX_NAME is set by the operator");
    }
    if (!t.branch_id.empty() && !looks_like_branch_id(t.branch_id.value)) {
        throw Error(
            ErrorKind::Usage,
            "invalid --branch-id '" + t.branch_id.value +
                "': Xata branch ids are 26 characters, a-v and 0-9, starting with a letter");
    }
    return t;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    if (text.empty()) {
        return std::nullopt;
    }
    std::size_t i = 0;
    while (i < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[i])) != 0 || text[i] == '.')) {
        ++i;
    }
    if (i == 0) {
        return std::nullopt;
    }
    double value = 0;
    try {
        std::size_t used = 0;
        value = std::stod(std::string(text.substr(0, i)), &used);
        if (used != i) {
            return std::nullopt;
        }
    } catch (const std::exception&) {
        return std::nullopt;
    }
    std::string_view unit = text.substr(i);
    double factor = 0;
    if (unit.empty() || unit == "s") {
        factor = 1000;
    } else if (unit == "ms") {
        factor = 1;
    } else if (unit == "m") {
        factor = 60'000;
    } else if (unit == "h") {
        factor = 3'600'000;
    } else if (unit == "d") {
        factor = 86'400'000;
    } else {
        return std::nullopt;
    }
    const double ms = value * factor;
    if (!(ms >= 0) || ms > 1e12) {
        return std::nullopt;
    }
    return std::chrono::milliseconds{static_cast<long long>(std::llround(ms))};
}

std::vector<std::string> describe_settings(
    const std::vector<std::pair<std::string, Setting>>& settings) {
    std::vector<std::string> out;
    for (const auto& [name, s] : settings) {
        std::string value = s.secret ? (s.empty() ? "" : std::string(k_mask)) : s.value;
        out.push_back(name + " = " + (value.empty() ? "(unset)" : redact(value)) + " (" + s.origin +
                      ")");
    }
    return out;
}

}  // namespace xbranch
