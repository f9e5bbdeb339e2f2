// What a command resolves through the settings table: the API settings
// (key, URL, organization, project, timeouts) and the branch it points at
// (name derived from the sandbox, or given; parent by name or id). The
// table itself and the per-value checks are settings.cpp's.
#include "settings.hpp"
#include "xbranch/error.hpp"
#include "xbranch/naming.hpp"

namespace xbranch::cli {

ApiConfig ApiSettings::plain() const {
    ApiConfig c;
    c.api_key = api_key.value;
    c.base_url = base_url.value;
    c.organization = organization.value;
    c.project = project.value;
    c.ca_file = cacert.value;
    c.connect_timeout = connect_timeout;
    c.request_timeout = request_timeout;
    return c;
}

ApiSettings resolve_api_config(const GlobalFlags& flags, const Environment& env) {
    ApiSettings c;
    c.api_key = resolve(SettingId::ApiKey, env);
    c.base_url = resolve(SettingId::BaseUrl, env, flags.base_url);
    c.organization = resolve(SettingId::Organization, env, flags.organization);
    c.project = resolve(SettingId::Project, env, flags.project);
    c.cacert = resolve(SettingId::CaCert, env, flags.cacert);
    c.connect_timeout =
        *parse_duration(resolve(SettingId::ConnectTimeout, env, flags.connect_timeout).value);
    c.request_timeout =
        *parse_duration(resolve(SettingId::RequestTimeout, env, flags.request_timeout).value);

    if (c.api_key.empty()) {
        throw Error(ErrorKind::Usage, "XATA_API_KEY is not set")
            .with_hint(
                "create an API key in the Xata console (Account settings > API keys) and "
                "export XATA_API_KEY=...; it is read only from the environment, never from a flag");
    }
    if (c.organization.empty()) {
        throw Error(ErrorKind::Usage, "no organization: pass --org ID or set XATA_ORGANIZATION_ID")
            .with_hint("the id is in the Xata console URL and in `xata status`");
    }
    if (c.project.empty()) {
        throw Error(ErrorKind::Usage, "no project: pass --project ID or set XATA_PROJECT_ID")
            .with_hint("project ids look like prj_...");
    }
    std::string problem;
    const auto url = check_base_url(c.base_url.value, problem);
    if (!url) {
        // The URL is not a secret, but a malformed one may hold anything:
        // show it redacted and quoted so a stray space or newline is visible.
        throw Error(ErrorKind::Usage, "invalid API base URL " + quote_input(c.base_url.value) +
                                          " (" + c.base_url.origin + "): " + problem)
            .with_hint(
                "for example https://api.xata.tech, or http://127.0.0.1:8080 for a local "
                "emulator");
    }
    if (!url->https && !url->loopback && !flags.allow_insecure_http) {
        throw Error(ErrorKind::Usage, "the API base URL (" + c.base_url.origin +
                                          ") uses plain http:// to a host that is not loopback: "
                                          "the API key would travel unencrypted")
            .with_hint("use https://, or pass --allow-insecure-http if the network is trusted");
    }
    return c;
}

BranchTarget resolve_branch_target(const IdentityFlags& flags, const Environment& env,
                                   bool require_name) {
    BranchTarget t;
    t.prefix = resolve(SettingId::Prefix, env, flags.prefix);
    t.sandbox = resolve(SettingId::Sandbox, env, flags.sandbox);
    t.sandbox_id = resolve(SettingId::SandboxId, env, flags.sandbox_id);
    t.resource = resolve(SettingId::Resource, env, flags.resource);
    if (flags.branch_id && !flags.branch_id->empty()) {
        t.branch_id = {*flags.branch_id, "flag --branch-id"};
    } else {
        t.branch_id = {"", "unset"};
    }

    // The parent: an explicit id needs no lookup; a name is resolved by listing.
    if (flags.parent && !flags.parent->empty()) {
        t.parent.setting = resolve(SettingId::ParentName, env, flags.parent);
        t.parent.is_id = looks_like_branch_id(*flags.parent);
    } else if (auto id = resolve(SettingId::ParentId, env); !id.empty()) {
        t.parent.setting = id;
        t.parent.is_id = true;
    } else {
        t.parent.setting = resolve(SettingId::ParentName, env);
        t.parent.is_id = false;
    }

    if (flags.branch && !flags.branch->empty()) {
        if (!valid_branch_name(*flags.branch)) {
            throw Error(ErrorKind::Usage, "invalid branch name " + quote_input(*flags.branch) +
                                              ": use 1-63 characters a-z, A-Z, 0-9, '-', '_' and "
                                              "'.', starting with a letter or digit");
        }
        t.name = {*flags.branch, "flag --branch"};
    } else if (!t.sandbox.empty()) {
        SandboxIdentity id{t.sandbox.value, t.sandbox_id.value, t.resource.value};
        try {
            t.name = {derive_branch_name(id, t.prefix.value),
                      "derived from " + t.sandbox.origin +
                          (t.sandbox_id.empty() ? "" : " and " + t.sandbox_id.origin) +
                          (t.resource.empty() ? "" : " and " + t.resource.origin)};
        } catch (Error& e) {
            e.add_hint(
                "pass --sandbox NAME (or set SIGNADOT_SANDBOX_NAME) with letters or "
                "digits in it, or name the branch with --branch");
            throw;
        }
    } else if (require_name) {
        throw Error(ErrorKind::Usage,
                    "no branch to work on: pass --sandbox NAME (or set SIGNADOT_SANDBOX_NAME), or "
                    "--branch NAME")
            .with_hint(
                "inside a Signadot plugin step SIGNADOT_SANDBOX_NAME is set by the operator");
    }
    if (!t.branch_id.empty() && !looks_like_branch_id(t.branch_id.value)) {
        throw Error(ErrorKind::Usage,
                    "invalid --branch-id " + quote_input(t.branch_id.value) +
                        ": Xata branch ids are 26 characters, a-v and 0-9, starting with a letter");
    }
    return t;
}

}  // namespace xbranch::cli
