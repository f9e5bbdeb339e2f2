#include "xbranch/xata_client.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "xbranch/percent.hpp"
#include "xbranch/quota.hpp"
#include "xbranch/redact.hpp"

namespace xbranch {
namespace {

using ms = std::chrono::milliseconds;

bool is_success(long status) {
    return status >= 200 && status < 300;
}

bool is_redirect(long status) {
    return status >= 300 && status < 400;
}

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

// 403 "Branch [ID] update is temporarily unavailable": an admission policy
// that passes, not an auth failure.
bool temporarily_unavailable(const HttpResponse& r) {
    return r.status == 403 &&
           parse_error_body(r.body).message.find("temporarily unavailable") != std::string::npos;
}

// Answers worth asking again beyond the policy's statuses: PATCH meets 409
// "modified concurrently, please retry" and the temporary 403.
bool retryable_answer(const std::string& method, const HttpResponse& r) {
    if (!RetryPolicy::retryable_method(method)) {
        return false;
    }
    if (RetryPolicy::retryable_status(r.status)) {
        return true;
    }
    return method == "PATCH" && (r.status == 409 || temporarily_unavailable(r));
}

}  // namespace

XataClient::XataClient(HttpTransport& transport, Clock& clock, ApiTarget target, RetryPolicy policy,
                       std::uint64_t seed)
    : m_transport(transport),
      m_clock(clock),
      m_target(std::move(target)),
      m_policy(std::move(policy)),
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

std::string XataClient::hosted_host(const std::string& id, const std::string& region) {
    return id + "." + region + ".xata.tech";
}

Error XataClient::error_from_response(const std::string& operation, const HttpResponse& response) {
    const ApiErrorBody body = parse_error_body(response.body);
    const long s = response.status;
    ErrorKind kind = ErrorKind::Protocol;
    ErrorReason reason = ErrorReason::None;
    std::string hint;
    std::string message = body.message.empty() ? "no error message in the answer" : body.message;
    if (s == 401) {
        kind = ErrorKind::Auth;
        reason = ErrorReason::BadApiKey;
    } else if (s == 403 && temporarily_unavailable(response)) {
        kind = ErrorKind::Unavailable;
        hint = "the service refuses the change for the moment; try again later";
    } else if (s == 403) {
        kind = ErrorKind::Auth;
        reason = ErrorReason::MissingPermission;
        hint =
            "the API key lacks a permission this needs (branch:read, branch:write, "
            "credentials:read), or the organization is disabled or over its allowance";
    } else if (s == 404) {
        kind = ErrorKind::NotFound;
        reason = ErrorReason::NotFoundInProject;
    } else if (s == 409) {
        kind = ErrorKind::Conflict;
    } else if (RetryPolicy::retryable_status(s)) {
        kind = ErrorKind::Unavailable;
        hint = "the Xata API is busy or down; try again later";
    } else if (s == 412) {
        hint = "the parent branch is not healthy; wait until it is, or wake it";
    } else if (is_redirect(s)) {
        const std::string location = response.header("location");
        message = "the API answered with a redirect to " +
                  (location.empty() ? std::string("nowhere (no Location header)") : location);
        reason = ErrorReason::Redirected;
    }
    Error e(kind, message);
    e.with_operation(operation)
        .with_http(static_cast<int>(s), request_id_of(response, body))
        .with_reason(reason);
    if (!hint.empty()) {
        e.with_hint(hint);
    }
    return e;
}

Error XataClient::error_from_transport(const std::string& operation, const TransportError& error) {
    if (error.kind == TransportError::Kind::Cancelled) {
        return Error(ErrorKind::Interrupted, "interrupted").with_operation(operation);
    }
    if (error.kind == TransportError::Kind::TooLarge) {
        return Error(ErrorKind::Protocol, error.message)
            .with_operation(operation)
            .with_reason(ErrorReason::ResponseTooLarge);
    }
    Error e(ErrorKind::Unavailable,
            std::string(transport_kind_name(error.kind)) + ": " + error.message);
    e.with_operation(operation);
    if (error.kind == TransportError::Kind::Tls) {
        e.with_reason(ErrorReason::TlsVerify);
    } else if (error.kind == TransportError::Kind::Connect) {
        e.with_reason(ErrorReason::Connect);
    }
    return e;
}

Error XataClient::interrupted_error(const std::string& operation, const CancelToken* cancel) {
    const int sig = cancel != nullptr ? cancel->signal_number() : 0;
    return Error(ErrorKind::Interrupted,
                 sig > 0 ? "interrupted by signal " + std::to_string(sig) : "interrupted")
        .with_operation(operation)
        .with_signal(sig);
}

Error XataClient::deadline_error(const std::string& operation, const std::string& last) {
    return Error(ErrorKind::Timeout,
                 "the time limit ran out" + (last.empty() ? std::string() : "; last: " + last))
        .with_operation(operation)
        .with_reason(ErrorReason::DeadlineReached);
}

CallLimits XataClient::call_limits(const std::string& operation, const Limits& limits) const {
    if (limits.cancelled()) {
        throw interrupted_error(operation, limits.cancel);
    }
    CallLimits call;
    call.cancel = limits.cancel;
    if (limits.deadline.is_set()) {
        const ms left = limits.deadline.left(m_clock);
        if (left <= ms{0}) {
            throw deadline_error(operation, "no time left to send it");
        }
        call.time_left = left;
    }
    if (limits.request_cap) {
        call.time_left = std::min(call.time_left.value_or(ms::max()), *limits.request_cap);
    }
    return call;
}

HttpOutcome XataClient::send_once(const std::string& operation, const std::string& method,
                                  const std::string& url, const std::string& body,
                                  const Limits& limits) {
    // The URL is for -v; errors name the operation, which the user asked for.
    const std::string what = method + " " + redact(url);
    const CallLimits call = call_limits(operation, limits);
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
    HttpOutcome out = m_transport.send(req, call);
    const auto took = std::chrono::duration_cast<ms>(m_clock.now() - start);
    if (out.ok()) {
        spdlog::debug("{} -> {} in {} ms (request id {})", what, out.response->status, took.count(),
                      out.response->header("x-request-id"));
    } else {
        spdlog::debug("{} -> {} in {} ms", what, redact(outcome_summary(out)), took.count());
        if (out.error->kind == TransportError::Kind::Cancelled) {
            throw interrupted_error(operation, limits.cancel);
        }
    }
    return out;
}

HttpResponse XataClient::send_retrying(const std::string& operation, const Limits& limits,
                                       const std::string& method, const std::string& url,
                                       const std::string& body,
                                       const std::function<Attempt(const HttpResponse&)>& check,
                                       bool* maybe_performed) {
    HttpOutcome last;
    Waiter waiter(m_clock, limits.cancel, limits.deadline);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    RetryLoop loop(waiter, m_policy, [this, &unit] { return unit(m_rng); });
    const LoopEnd end = loop.run(
        operation,
        [&](int) {
            last = send_once(operation, method, url, body, limits);
            if (!last.ok()) {
                if (maybe_performed != nullptr && last.error->maybe_sent) {
                    *maybe_performed = true;
                }
                return RetryPolicy::retryable(method, last) ? Attempt::retry(outcome_summary(last))
                                                            : Attempt::fail(outcome_summary(last));
            }
            const HttpResponse& r = *last.response;
            if (retryable_answer(method, r)) {
                if (maybe_performed != nullptr && r.status >= 500) {
                    *maybe_performed = true;
                }
                // A crowd of clients at a rate limit must not give up after a few
                // 429s: the policy waits out some of them without using an attempt.
                Attempt a = Attempt::retry(outcome_summary(last), r.retry_after);
                a.counts = r.status != 429;
                return a;
            }
            return check ? check(r) : Attempt::done();
        },
        m_policy.max_attempts);
    if (end.why == LoopEnd::Why::Cancelled) {
        throw interrupted_error(operation, limits.cancel);
    }
    if (end.why == LoopEnd::Why::DeadlineReached) {
        // The API kept answering "busy": that is what the user must hear (exit 8);
        // only silence is a timeout (exit 6).
        if (last.ok()) {
            throw error_from_response(operation, *last.response)
                .add_hint("the time limit ran out while retrying");
        }
        throw deadline_error(operation, end.last_reason);
    }
    if (!last.ok()) {
        throw error_from_transport(operation, *last.error);
    }
    return std::move(*last.response);
}

template <typename Parse>
auto XataClient::get_parsed(const std::string& operation, const std::string& url,
                            const Limits& limits, Parse parse) {
    // GET with retries, also when a 2xx answer cannot be parsed (a truncated
    // or mangled body is as passing as a 503).
    std::optional<decltype(parse(std::string_view{}))> result;
    std::optional<Error> parse_error;
    HttpResponse r = send_retrying(
        operation, limits, "GET", url, {}, [&](const HttpResponse& answer) -> Attempt {
            if (!is_success(answer.status)) {
                return Attempt::done();
            }
            try {
                result = parse(answer.body);
                return Attempt::done();
            } catch (Error& e) {
                e.with_operation(operation).with_http(static_cast<int>(answer.status),
                                                      answer.header("x-request-id"));
                parse_error = e;
                return Attempt::retry(e.what());
            }
        });
    if (!is_success(r.status)) {
        throw error_from_response(operation, r);
    }
    if (!result) {
        throw *parse_error;
    }
    return std::move(*result);
}

std::vector<Branch> XataClient::list_branches(const Limits& limits) {
    return get_parsed("list branches", project_url() + "/branches", limits,
                      [](std::string_view body) { return parse_branch_list(body); });
}

std::optional<Branch> XataClient::find_branch_by_name(const std::string& name,
                                                      const Limits& limits) {
    for (auto& b : list_branches(limits)) {
        if (b.name == name) {
            return b;
        }
    }
    return std::nullopt;
}

CreateOutcome XataClient::create_branch(const std::string& name, const std::string& parent_id,
                                        const std::string& description, const Limits& limits) {
    const std::string op = "create branch " + name;
    CreateOutcome result;
    HttpOutcome o = send_once(op, "POST", project_url() + "/branches",
                              make_create_body(name, parent_id, description), limits);
    if (!o.ok()) {
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
        result.retry_after = r.retry_after;
        result.maybe_created = r.status != 429;  // a rate-limited call never reached the service
        result.last_error = error_from_response(op, r);
        return result;
    }
    // The project's branch cap or the organization's allowance: its own exit code.
    if (auto refused = quota_refusal(r)) {
        refused->with_operation(op);
        throw *refused;
    }
    throw error_from_response(op, r);
}

std::optional<ProjectLimits> XataClient::project_limits(const Limits& limits) {
    const std::string op = "read project limits";
    HttpOutcome o = send_once(op, "GET", project_url() + "/limits", {}, limits);
    if (!o.ok()) {
        throw error_from_transport(op, *o.error);
    }
    return limits_from_response(*o.response);
}

BranchDetails XataClient::describe_branch(const std::string& id, const Limits& limits) {
    return get_parsed("describe branch " + id, branch_url(id), limits,
                      [](std::string_view body) { return parse_branch_details(body); });
}

void XataClient::wake_branch(const std::string& id, const Limits& limits) {
    const std::string op = "wake branch " + id;
    HttpResponse r = send_retrying(op, limits, "PATCH", branch_url(id), make_wake_body());
    if (!is_success(r.status)) {
        throw error_from_response(op, r);
    }
}

void XataClient::update_description(const std::string& id, const std::string& text,
                                    const Limits& limits) {
    const std::string op = "update description of branch " + id;
    // The same PATCH rules as wake: 409 and the temporary 403 are retried.
    HttpResponse r = send_retrying(op, limits, "PATCH", branch_url(id),
                                   nlohmann::json{{"description", text}}.dump());
    if (!is_success(r.status)) {
        throw error_from_response(op, r);
    }
}

bool XataClient::delete_branch(const std::string& id, const Limits& limits) {
    const std::string op = "delete branch " + id;
    bool maybe_performed = false;
    HttpResponse r = send_retrying(op, limits, "DELETE", branch_url(id), {}, {}, &maybe_performed);
    if (r.status == 404) {
        // A retry's 404 after a try whose answer was lost: that try deleted it.
        return maybe_performed;
    }
    if (!is_success(r.status)) {
        throw error_from_response(op, r);
    }
    return true;
}

Credentials XataClient::credentials(const std::string& id, const Limits& limits) {
    return get_parsed("get credentials of branch " + id,
                      branch_url(id) + "/credentials?username=xata", limits,
                      [](std::string_view body) {
                          Credentials c = parse_credentials(body);
                          register_secret(c.password);
                          return c;
                      });
}

}  // namespace xbranch
