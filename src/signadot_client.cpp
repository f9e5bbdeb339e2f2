#include "xbranch/signadot_client.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "xbranch/clock.hpp"
#include "xbranch/redact.hpp"

namespace xbranch {
namespace {

using nlohmann::json;

const char* const k_operation = "list Signadot sandboxes";

bool header_safe(std::string_view text) {
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u >= 0x7f) {
            return false;  // no spaces, control characters or non-ASCII in a header value
        }
    }
    return !text.empty();
}

bool org_safe(std::string_view org) {
    for (char c : org) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
        if (!ok) {
            return false;
        }
    }
    return !org.empty() && org != "." && org != "..";
}

std::string optional_string(const json& j, const char* key, std::size_t index) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
        return {};
    }
    if (!it->is_string()) {
        throw Error(ErrorKind::Protocol, "the sandbox list's item " + std::to_string(index) +
                                             " has a '" + key + "' that is not a string");
    }
    return it->get<std::string>();
}

}  // namespace

void validate_signadot_target(const SignadotTarget& t) {
    if (t.base_url.rfind("https://", 0) != 0 && t.base_url.rfind("http://", 0) != 0) {
        throw Error(ErrorKind::Usage,
                    "the Signadot API URL must start with https:// (or http:// for a local "
                    "stand-in): " +
                        quote_input(t.base_url));
    }
    for (char c : t.base_url) {
        if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
            throw Error(ErrorKind::Usage,
                        "the Signadot API URL holds spaces or control characters");
        }
    }
    {
        // The key goes in a header; credentials in the URL would be sent too
        // (as basic auth) and shown wherever the URL is.
        const std::size_t start = t.base_url.find("://") + 3;
        const std::string authority =
            t.base_url.substr(start, t.base_url.find_first_of("/?#", start) - start);
        if (authority.find('@') != std::string::npos) {
            throw Error(ErrorKind::Usage,
                        "user names or passwords in the Signadot API URL are not supported");
        }
    }
    if (!header_safe(t.api_key)) {
        throw Error(ErrorKind::Usage,
                    "the Signadot API key is empty or holds spaces, control or non-ASCII "
                    "characters");
    }
    if (!org_safe(t.org)) {
        throw Error(ErrorKind::Usage, "invalid Signadot organization name " + quote_input(t.org) +
                                          ": use letters, digits, '-', '_' and '.'");
    }
}

std::vector<LiveSandbox> parse_sandbox_list(std::string_view body) {
    json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
        throw Error(ErrorKind::Protocol, "the sandbox list is not valid JSON (truncated?)");
    }
    if (!j.is_array()) {
        throw Error(ErrorKind::Protocol, "the sandbox list is not a JSON array");
    }
    std::vector<LiveSandbox> out;
    out.reserve(j.size());
    std::size_t index = 0;
    for (const auto& item : j) {
        if (!item.is_object()) {
            throw Error(ErrorKind::Protocol,
                        "the sandbox list's item " + std::to_string(index) + " is not an object");
        }
        LiveSandbox s;
        s.name = optional_string(item, "name", index);
        if (s.name.empty()) {
            throw Error(ErrorKind::Protocol,
                        "the sandbox list's item " + std::to_string(index) + " has no name");
        }
        s.routing_key = optional_string(item, "routingKey", index);
        if (auto spec = item.find("spec"); spec != item.end() && !spec->is_null()) {
            if (!spec->is_object()) {
                throw Error(ErrorKind::Protocol, "sandbox '" + s.name + "' has a non-object spec");
            }
            if (auto res = spec->find("resources"); res != spec->end() && !res->is_null()) {
                if (!res->is_array()) {
                    throw Error(ErrorKind::Protocol,
                                "sandbox '" + s.name + "' has spec.resources that is not an array");
                }
                for (const auto& r : *res) {
                    if (!r.is_object()) {
                        throw Error(
                            ErrorKind::Protocol,
                            "sandbox '" + s.name + "' has a resource that is not an object");
                    }
                    std::string name = optional_string(r, "name", index);
                    if (!name.empty()) {
                        s.resources.push_back(std::move(name));
                    }
                }
            }
        }
        out.push_back(std::move(s));
        ++index;
    }
    return out;
}

Error signadot_error(const HttpResponse& response) {
    const long status = response.status;
    std::string message;
    std::string request_id = response.header("x-request-id");
    json j = json::parse(response.body.begin(), response.body.end(), nullptr, false);
    if (!j.is_discarded() && j.is_object()) {
        if (auto it = j.find("error"); it != j.end() && it->is_string()) {
            message = it->get<std::string>();
        }
        if (auto it = j.find("requestId");
            it != j.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) {
            request_id = it->get<std::string>();
        }
    }
    if (message.size() > 200) {
        message.resize(200);
    }
    ErrorKind kind = ErrorKind::Protocol;
    std::string what;
    if (status == 401 || status == 403) {
        kind = ErrorKind::Auth;
        what = status == 401 ? "the Signadot API key was refused"
                             : "the Signadot API key may not list this organization's sandboxes";
    } else if (status == 404) {
        kind = ErrorKind::NotFound;
        what = "no such Signadot organization";
    } else if (status >= 500 || status == 429) {
        kind = ErrorKind::Unavailable;
        what = "the Signadot API is unavailable";
    } else {
        what = "the Signadot API refused the request";
    }
    if (!message.empty()) {
        what += ": " + message;
    }
    return Error(kind, what)
        .with_operation(k_operation)
        .with_http(static_cast<int>(status), request_id);
}

SignadotClient::SignadotClient(HttpTransport& transport, Clock& clock, SignadotTarget target)
    : m_transport(transport), m_clock(clock), m_target(std::move(target)) {
    register_secret(m_target.api_key);
    validate_signadot_target(m_target);
    while (!m_target.base_url.empty() && m_target.base_url.back() == '/') {
        m_target.base_url.pop_back();
    }
}

std::string SignadotClient::sandboxes_url() const {
    return m_target.base_url + "/api/v2/orgs/" + m_target.org + "/sandboxes";
}

HttpOutcome SignadotClient::send(const HttpRequest& request, const Limits& limits) {
    CallLimits call;
    call.cancel = limits.cancel;
    if (limits.deadline.is_set()) {
        if (limits.deadline.passed(m_clock)) {
            throw Error(ErrorKind::Timeout, "the time limit ran out; last: no time left to send it")
                .with_operation(k_operation)
                .with_reason(ErrorReason::DeadlineReached);
        }
        call.time_left = limits.deadline.left(m_clock);
    }
    if (limits.request_cap) {
        call.time_left = std::min(call.time_left.value_or(std::chrono::milliseconds::max()),
                                  *limits.request_cap);
    }
    ++m_requests;
    return m_transport.send(request, call);
}

std::vector<LiveSandbox> SignadotClient::list_sandboxes(const Limits& limits) {
    HttpRequest req;
    req.method = "GET";
    req.url = sandboxes_url();
    req.headers["signadot-api-key"] = m_target.api_key;
    req.headers["Accept"] = "application/json";
    HttpOutcome o = send(req, limits);
    if (!o.ok()) {
        const TransportError& e = *o.error;
        if (e.kind == TransportError::Kind::Cancelled) {
            throw Error(ErrorKind::Interrupted, "interrupted")
                .with_operation(k_operation)
                .with_signal(limits.cancel != nullptr ? limits.cancel->signal_number() : 0);
        }
        if (e.kind == TransportError::Kind::TooLarge) {
            // An answer came, just not one gc can use: like a body that is
            // not the list (exit 10), not an outage (8).
            throw Error(ErrorKind::Protocol, "the Signadot API's answer is too large: " + e.message)
                .with_operation(k_operation)
                .with_hint(
                    "check that the Signadot API address points at the Signadot API, not "
                    "at another service");
        }
        throw Error(ErrorKind::Unavailable, std::string("no answer from the Signadot API (") +
                                                transport_kind_name(e.kind) + "): " + e.message)
            .with_operation(k_operation);
    }
    const HttpResponse& r = *o.response;
    if (r.status < 200 || r.status >= 300) {
        throw signadot_error(r);
    }
    try {
        return parse_sandbox_list(r.body);
    } catch (Error& e) {
        e.with_operation(k_operation)
            .with_http(static_cast<int>(r.status), r.header("x-request-id"));
        throw;
    }
}

}  // namespace xbranch
