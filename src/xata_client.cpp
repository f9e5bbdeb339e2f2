#include "xbranch/xata_client.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

#include "xbranch/connection.hpp"
#include "xbranch/redact.hpp"

namespace xbranch {
namespace {

bool is_success(long status) {
    return status >= 200 && status < 300;
}

// 429 answers waited out on top of the policy's attempts (each wait grows to
// the policy's 5 s cap, or Retry-After): about a minute at most.
constexpr int k_max_rate_limited = 12;

std::string request_id_of(const HttpResponse& r, const ApiErrorBody& body) {
    std::string id = r.header("x-request-id");
    return id.empty() ? body.id : id;
}

std::string outcome_summary(const HttpOutcome& o) {
    if (o.ok()) {
        return "HTTP " + std::to_string(o.response->status);
    }
    return std::string(transport_kind_name(o.error->kind)) + " (" + o.error->message + ")";
}

}  // namespace

XataClient::XataClient(HttpTransport& transport, Clock& clock, ApiTarget target, RetryPolicy policy,
                       std::uint64_t seed)
    : m_transport(transport),
      m_clock(clock),
      m_target(std::move(target)),
      m_policy(policy),
      m_rng(seed) {
    while (!m_target.base_url.empty() && m_target.base_url.back() == '/') {
        m_target.base_url.pop_back();
    }
}

std::string XataClient::project_url() const {
    return m_target.base_url + "/organizations/" + percent_encode(m_target.organization) +
           "/projects/" + percent_encode(m_target.project);
}

std::string XataClient::branch_url(const std::string& id) const {
    return project_url() + "/branches/" + percent_encode(id);
}

Error XataClient::error_from_response(const std::string& operation, const HttpResponse& response) {
    const ApiErrorBody body = parse_error_body(response.body);
    const long s = response.status;
    ErrorKind kind = ErrorKind::Protocol;
    std::string hint;
    if (s == 401 || s == 403) {
        kind = ErrorKind::Auth;
        hint = s == 401
                   ? "check XATA_API_KEY: the key must be valid and belong to a member of the "
                     "organization (create one under Account settings > API keys)"
                   : "the API key lacks a permission this needs (branch:read, branch:write, "
                     "credentials:read), or the organization is disabled or over its allowance";
    } else if (s == 404) {
        kind = ErrorKind::NotFound;
        hint = "check XATA_ORGANIZATION_ID, XATA_PROJECT_ID and the parent branch";
    } else if (s == 409) {
        kind = ErrorKind::Conflict;
    } else if (RetryPolicy::retryable_status(s)) {
        kind = ErrorKind::Unavailable;
        hint = "the Xata API is busy or down; try again later";
    } else if (s == 412) {
        hint = "the parent branch is not healthy; wait until it is, or wake it";
    }
    std::string message = body.message.empty() ? "no error message in the answer" : body.message;
    Error e(kind, message);
    e.with_operation(operation).with_http(static_cast<int>(s), request_id_of(response, body));
    if (!hint.empty()) {
        e.with_hint(hint);
    }
    return e;
}

Error XataClient::error_from_transport(const std::string& operation, const TransportError& error) {
    if (error.message == "interrupted" || interrupted()) {
        return Error(ErrorKind::Interrupted, "interrupted")
            .with_operation(operation)
            .with_signal(interrupt_signal());
    }
    Error e(ErrorKind::Unavailable,
            std::string(transport_kind_name(error.kind)) + ": " + error.message);
    e.with_operation(operation);
    if (error.kind == TransportError::Kind::Tls) {
        e.with_hint(
            "the server's certificate could not be verified; pass --cacert FILE (or set "
            "CURL_CA_BUNDLE) with the CA that signed it. Verification is never switched off");
    } else if (error.kind == TransportError::Kind::Connect) {
        e.with_hint("check XATA_API_BASE_URL and your network or proxy settings");
    }
    return e;
}

HttpOutcome XataClient::send_once(const std::string& method, const std::string& url,
                                  const std::string& body) {
    HttpRequest req;
    req.method = method;
    req.url = url;
    req.headers["Authorization"] = "Bearer " + m_target.api_key;
    req.headers["Accept"] = "application/json";
    if (!body.empty()) {
        req.headers["Content-Type"] = "application/json";
    }
    req.body = body;
    ++m_requests;
    const auto start = m_clock.now();
    HttpOutcome out = m_transport.send(req);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(m_clock.now() - start);
    if (out.ok()) {
        spdlog::debug("{} {} -> {} in {} ms (request id {})", method, redact(url),
                      out.response->status, ms.count(), out.response->header("x-request-id"));
    } else {
        spdlog::debug("{} {} -> {} in {} ms", method, redact(url), redact(outcome_summary(out)),
                      ms.count());
    }
    return out;
}

bool XataClient::backoff(const std::string& operation, int attempt, const std::string& why,
                         std::optional<std::chrono::milliseconds> retry_after) {
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const auto wait = m_policy.delay(attempt, retry_after, unit(m_rng));
    spdlog::info("{}: {}; retrying in {} ms (try {})", operation, redact(why), wait.count(),
                 attempt + 1);
    if (!m_clock.sleep_for(wait)) {
        throw Error(ErrorKind::Interrupted, "interrupted")
            .with_operation(operation)
            .with_signal(interrupt_signal());
    }
    return true;
}

HttpResponse XataClient::send_retrying(const std::string& operation, const std::string& method,
                                       const std::string& url, const std::string& body) {
    HttpOutcome outcome;
    int attempt = 0;       // attempts that count against the policy
    int rate_limited = 0;  // 429 answers that did not count (the call was not performed)
    for (int tries = 1;; ++tries) {
        outcome = send_once(method, url, body);
        if (!outcome.ok() && (outcome.error->message == "interrupted" || interrupted())) {
            throw error_from_transport(operation, *outcome.error);
        }
        // A crowd of clients at a rate limit must not give up after a few 429s:
        // up to k_max_rate_limited of them are waited out on top of the attempts.
        if (outcome.ok() && outcome.response->status == 429 && rate_limited < k_max_rate_limited) {
            ++rate_limited;
        } else {
            ++attempt;
        }
        if (!m_policy.should_retry(method, outcome, std::max(attempt, 1))) {
            break;
        }
        std::optional<std::chrono::milliseconds> retry_after;
        if (outcome.ok()) {
            retry_after = parse_retry_after(outcome.response->header("retry-after"),
                                            static_cast<std::int64_t>(std::time(nullptr)));
        }
        backoff(operation, tries, outcome_summary(outcome), retry_after);
    }
    if (!outcome.ok()) {
        throw error_from_transport(operation, *outcome.error);
    }
    return std::move(*outcome.response);
}

template <typename Parse>
auto XataClient::get_parsed(const std::string& operation, const std::string& url, Parse parse) {
    for (int attempt = 1;; ++attempt) {
        HttpResponse r = send_retrying(operation, "GET", url);
        if (!is_success(r.status)) {
            throw error_from_response(operation, r);
        }
        try {
            return parse(r.body);
        } catch (Error& e) {
            e.with_operation(operation).with_http(static_cast<int>(r.status),
                                                  r.header("x-request-id"));
            if (attempt >= m_policy.max_attempts) {
                throw;
            }
            backoff(operation, attempt, e.what(), std::nullopt);
        }
    }
}

std::vector<Branch> XataClient::list_branches() {
    return get_parsed("list branches", project_url() + "/branches",
                      [](const std::string& body) { return parse_branch_list(body); });
}

std::optional<Branch> XataClient::find_branch_by_name(const std::string& name) {
    for (auto& b : list_branches()) {
        if (b.name == name) {
            return b;
        }
    }
    return std::nullopt;
}

CreateOutcome XataClient::create_branch(const std::string& name, const std::string& parent_id,
                                        const std::string& description) {
    const std::string op = "create branch " + name;
    CreateOutcome result;
    HttpOutcome o = send_once("POST", project_url() + "/branches",
                              make_create_body(name, parent_id, description));
    if (!o.ok()) {
        if (o.error->message == "interrupted" || interrupted()) {
            throw error_from_transport(op, *o.error);
        }
        result.kind = CreateOutcome::Kind::Uncertain;
        result.detail = outcome_summary(o);
        result.maybe_created = o.error->maybe_sent;
        return result;
    }
    const HttpResponse& r = *o.response;
    if (r.status == 201 || r.status == 200) {
        try {
            result.branch = parse_branch_short(r.body);
            result.kind = CreateOutcome::Kind::Created;
        } catch (const Error& e) {
            // It answered success, so the branch very likely exists: settle by name.
            result.kind = CreateOutcome::Kind::Uncertain;
            result.detail = std::string("HTTP ") + std::to_string(r.status) +
                            " with an unusable body (" + e.what() + ")";
        }
        return result;
    }
    if (r.status == 409) {
        result.kind = CreateOutcome::Kind::Conflict;
        result.detail = redact(parse_error_body(r.body).message);
        return result;
    }
    if (RetryPolicy::retryable_status(r.status)) {
        result.kind = CreateOutcome::Kind::Uncertain;
        result.detail =
            "HTTP " + std::to_string(r.status) + " (request id " + r.header("x-request-id") + ")";
        result.retry_after = parse_retry_after(r.header("retry-after"),
                                               static_cast<std::int64_t>(std::time(nullptr)));
        result.maybe_created = r.status != 429;  // a rate-limited call never reached the service
        result.last_error = error_from_response(op, r);
        return result;
    }
    throw error_from_response(op, r);
}

BranchDetails XataClient::describe_branch(const std::string& id) {
    return get_parsed("describe branch " + id, branch_url(id),
                      [](const std::string& body) { return parse_branch_details(body); });
}

void XataClient::wake_branch(const std::string& id) {
    const std::string op = "wake branch " + id;
    HttpResponse r = send_retrying(op, "PATCH", branch_url(id), make_wake_body());
    if (!is_success(r.status)) {
        throw error_from_response(op, r);
    }
}

bool XataClient::delete_branch(const std::string& id) {
    const std::string op = "delete branch " + id;
    HttpResponse r = send_retrying(op, "DELETE", branch_url(id));
    if (r.status == 404) {
        return false;
    }
    if (!is_success(r.status)) {
        throw error_from_response(op, r);
    }
    return true;
}

Credentials XataClient::credentials(const std::string& id) {
    return get_parsed("get credentials of branch " + id,
                      branch_url(id) + "/credentials?username=xata", [](const std::string& body) {
                          Credentials c = parse_credentials(body);
                          register_secret(c.password);
                          register_secret(percent_encode(c.password));
                          return c;
                      });
}

}  // namespace xbranch
