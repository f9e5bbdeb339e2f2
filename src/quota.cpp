#include "xbranch/quota.hpp"

#include <algorithm>
#include <cctype>
#include <limits>

#include "xbranch/clock.hpp"
#include "xbranch/redact.hpp"

namespace xbranch {
namespace {

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

bool mentions(const std::string& text, std::initializer_list<const char*> words) {
    return std::any_of(words.begin(), words.end(),
                       [&](const char* w) { return text.find(w) != std::string::npos; });
}

std::string request_id_of(const HttpResponse& r, const ApiErrorBody& body) {
    const std::string header = r.header("x-request-id");
    return header.empty() ? body.id : header;
}

}  // namespace

std::string limits_path(std::string_view organization, std::string_view project) {
    return "/organizations/" + std::string(organization) + "/projects/" + std::string(project) +
           "/limits";
}

std::optional<ProjectLimits> limits_from_response(const HttpResponse& r) {
    if (r.status == 404) {
        return std::nullopt;  // Xata Core: the call does not exist
    }
    const ApiErrorBody body = parse_error_body(r.body);
    if (r.status >= 200 && r.status < 300) {
        try {
            return parse_project_limits(r.body);
        } catch (Error& e) {
            e.with_operation("read project limits")
                .with_http(static_cast<int>(r.status), r.header("x-request-id"));
            throw;
        }
    }
    ErrorKind kind = ErrorKind::Protocol;
    if (r.status == 401 || r.status == 403) {
        kind = ErrorKind::Auth;
    } else if (r.status == 429 || r.status >= 500) {
        kind = ErrorKind::Unavailable;
    }
    throw Error(kind, body.message.empty() ? "no error message in the answer" : body.message)
        .with_operation("read project limits")
        .with_http(static_cast<int>(r.status), request_id_of(r, body));
}

QuotaCheck check_quota(const std::vector<Branch>& branches,
                       const std::optional<ProjectLimits>& limits, std::string_view prefix,
                       std::size_t show) {
    QuotaCheck c;
    c.live = branches.size();
    if (limits) {
        c.cap = limits->max_branches_per_project;
    }
    c.at_cap = c.cap.has_value() && static_cast<long long>(c.live) >= *c.cap;
    std::vector<std::pair<long long, const Branch*>> ours;
    for (const auto& b : branches) {
        if (b.name.rfind(prefix, 0) != 0 || prefix.empty() || !b.parent_id ||
            b.parent_id->empty()) {
            continue;
        }
        // An unreadable creation time sorts last: it is not known to be old.
        const auto t = parse_timestamp(b.created_at);
        ours.emplace_back(t ? *t : std::numeric_limits<long long>::max(), &b);
    }
    std::stable_sort(ours.begin(), ours.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (std::size_t i = 0; i < ours.size() && i < show; ++i) {
        c.oldest.push_back(*ours[i].second);
    }
    return c;
}

std::string branches_text(const std::vector<Branch>& branches) {
    std::string out;
    for (std::size_t i = 0; i < branches.size(); ++i) {
        out += (i == 0 ? "" : ", ") + branches[i].name + " (" +
               (branches[i].created_at.empty() ? "?" : branches[i].created_at) + ")";
    }
    return out;
}

Error quota_error(const QuotaCheck& c, std::string_view free_room_command) {
    std::string message = "the project has " + std::to_string(c.live) +
                          (c.live == 1 ? " branch" : " branches") + ", its cap is " +
                          (c.cap ? std::to_string(*c.cap) : std::string("unknown"));
    if (!c.oldest.empty()) {
        message += "; oldest of ours: " + branches_text(c.oldest);
    }
    Error e(ErrorKind::QuotaExceeded, message);
    e.with_operation("check branch quota").with_reason(ErrorReason::QuotaReached);
    if (!free_room_command.empty()) {
        e.with_hint("free room with `" + std::string(free_room_command) + "`");
    }
    return e;
}

std::optional<Error> quota_refusal(const HttpResponse& r) {
    const ApiErrorBody body = parse_error_body(r.body);
    const std::string text = lower(body.message);
    // The hourly cap reads "... may create at most N branches per hour".
    const bool refused = (r.status == 400 && mentions(text, {"too many branches"})) ||
                         (r.status == 403 && mentions(text, {"allowance", "too many branches",
                                                             "limit", "quota", "per hour"}));
    if (!refused) {
        return std::nullopt;
    }
    Error e(ErrorKind::QuotaExceeded, body.message);
    e.with_operation("create branch")
        .with_http(static_cast<int>(r.status), request_id_of(r, body))
        .with_reason(ErrorReason::QuotaReached);
    if (r.status == 403) {
        e.with_hint("creates per hour may be capped too: for that cap, waiting frees room");
    }
    return e;
}

}  // namespace xbranch
