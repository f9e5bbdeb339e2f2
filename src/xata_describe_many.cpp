// XataClient::describe_branches: many describes overlapped over
// HttpTransport::send_many, with describe_branch's status mapping and retry
// rules applied per branch, round after round. Apart from xata_client.cpp so
// that the batch lives in one place; it uses only the Limits it is given.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "xbranch/redact.hpp"
#include "xbranch/xata_client.hpp"

namespace xbranch {
namespace {

using ms = std::chrono::milliseconds;

// A round is sent in chunks of this many times the in-flight count: a 429
// in one chunk slows the next at once, and a chunk still overlaps its
// requests (send_many keeps max_in_flight going until the chunk ends).
constexpr std::size_t k_chunk_waves = 4;

std::string summary(const HttpOutcome& o) {
    if (o.ok()) {
        return "HTTP " + std::to_string(o.response->status);
    }
    return std::string(transport_kind_name(o.error->kind)) + " (" + o.error->message + ")";
}

// One branch still to be described, and its retry state (RetryLoop's, per branch).
struct Pending {
    std::size_t index = 0;
    int tries = 0;
    int counted = 0;
    int free_used = 0;
    int refusals = 0;
    std::optional<HttpOutcome> last;
    std::optional<Error> parse_error;  // a 2xx whose body could not be read
    std::string last_reason;
};

}  // namespace

std::vector<DescribeResult> XataClient::describe_branches(const std::vector<std::string>& ids,
                                                          const Limits& limits,
                                                          std::size_t max_in_flight) {
    std::vector<DescribeResult> out(ids.size());
    const std::size_t width = std::max<std::size_t>(1, max_in_flight);
    const auto op = [&ids](std::size_t i) { return "describe branch " + ids[i]; };
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const auto draw = [this, &unit] { return unit(m_rng); };
    RatePacer* pacer = m_policy.pacer.get();
    Waiter waiter(m_clock, limits.cancel, limits.deadline);

    // What a branch that got no further came to: the last answer's error, as
    // describe_branch throws it.
    const auto settle = [&](Pending& p, bool deadline) {
        DescribeResult& r = out[p.index];
        if (!p.last) {
            r.error = deadline_error(op(p.index), "no time left to send it");
        } else if (p.last->ok()) {
            const HttpResponse& answer = *p.last->response;
            if (answer.status >= 200 && answer.status < 300 && p.parse_error) {
                r.error = *p.parse_error;
            } else {
                r.error = error_from_response(op(p.index), answer);
            }
            if (deadline) {
                r.error->add_hint("the time limit ran out while retrying");
            }
        } else if (deadline) {
            r.error = deadline_error(op(p.index), p.last_reason);
        } else {
            r.error = error_from_transport(op(p.index), *p.last->error);
        }
    };
    const auto settle_all = [&](std::vector<Pending>& rest, bool deadline) {
        for (auto& p : rest) {
            settle(p, deadline);
        }
        rest.clear();
    };
    // Waits `d` (nothing when 0); false when the deadline came first. Throws on cancel.
    const auto wait = [&](ms d, const std::string& what) {
        if (d <= ms{0}) {
            return !waiter.deadline_passed();
        }
        switch (waiter.wait(d)) {
            case Waiter::Result::Cancelled:
                throw interrupted_error(what, limits.cancel);
            case Waiter::Result::DeadlineReached:
                return false;
            case Waiter::Result::Slept:
                break;
        }
        return true;
    };

    std::vector<Pending> pending(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
        pending[i].index = i;
    }
    while (!pending.empty()) {
        std::vector<Pending> again;
        ms round_wait{0};
        std::string first_reason;
        std::size_t next = 0;
        while (next < pending.size()) {
            if (waiter.cancelled()) {
                throw interrupted_error(op(pending[next].index), limits.cancel);
            }
            // After a 429 the requests keep the pacer's gap: one at a time.
            const ms gap = pacer != nullptr ? pacer->wait_before(m_clock.now()) : ms{0};
            // The deadline ends the batch: what is left gets the deadline's error.
            const auto out_of_time = [&] {
                pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(next));
                settle_all(pending, true);
                settle_all(again, true);
            };
            if (!wait(gap, op(pending[next].index))) {
                out_of_time();
                return out;
            }
            CallLimits call;
            call.cancel = limits.cancel;
            if (limits.deadline.is_set()) {
                const ms left = limits.deadline.left(m_clock);
                if (left <= ms{0}) {
                    out_of_time();
                    return out;
                }
                call.time_left = left;
            }
            if (limits.request_cap) {
                call.time_left = std::min(call.time_left.value_or(ms::max()), *limits.request_cap);
            }
            const std::size_t chunk = gap > ms{0} || (pacer != nullptr && pacer->gap() > ms{0})
                                          ? 1
                                          : std::min(width * k_chunk_waves, pending.size() - next);
            std::vector<HttpRequest> requests(chunk);
            for (std::size_t k = 0; k < chunk; ++k) {
                HttpRequest& req = requests[k];
                req.method = "GET";
                req.url = branch_url(ids[pending[next + k].index]);
                req.headers["Authorization"] = "Bearer " + m_target.api_key;
                req.headers["Accept"] = "application/json";
            }
            if (pacer != nullptr) {
                pacer->started(m_clock.now());
            }
            m_requests += static_cast<int>(chunk);
            const auto start = m_clock.now();
            std::vector<HttpOutcome> outcomes = m_transport.send_many(requests, call, width);
            spdlog::debug("{} describe(s), {} at a time, in {} ms", chunk, width,
                          std::chrono::duration_cast<ms>(m_clock.now() - start).count());
            if (outcomes.size() != chunk) {
                throw Error(ErrorKind::Internal, "the transport answered " +
                                                     std::to_string(outcomes.size()) + " of " +
                                                     std::to_string(chunk) + " requests");
            }
            // The chunk's answers came at about the same time: its 429s are
            // the latest word on the rate, so they reach the pacer after
            // the answers that shrink its gap.
            std::size_t answered = 0;
            std::vector<std::optional<ms>> refusals;
            for (std::size_t k = 0; k < chunk; ++k) {
                Pending& p = pending[next + k];
                HttpOutcome& o = outcomes[k];
                ++p.tries;
                if (!o.ok() && o.error->kind == TransportError::Kind::Cancelled) {
                    throw interrupted_error(op(p.index), limits.cancel);
                }
                Attempt verdict = Attempt::done();
                if (!o.ok()) {
                    verdict = RetryPolicy::retryable("GET", o) ? Attempt::retry(summary(o))
                                                               : Attempt::fail(summary(o));
                } else if (RetryPolicy::retryable_status(o.response->status)) {
                    verdict = Attempt::retry(summary(o), o.response->retry_after);
                    verdict.counts = o.response->status != 429;
                } else if (o.response->status >= 200 && o.response->status < 300) {
                    try {
                        out[p.index].details = parse_branch_details(o.response->body);
                    } catch (Error& e) {
                        e.with_operation(op(p.index))
                            .with_http(static_cast<int>(o.response->status),
                                       o.response->header("x-request-id"));
                        p.parse_error = e;
                        verdict = Attempt::retry(e.what());
                    }
                }
                p.last = std::move(o);
                if (verdict.verdict == Attempt::Verdict::Done) {
                    ++answered;
                    if (!out[p.index].details) {
                        settle(p, false);  // a final answer that is no success (404, 401, ...)
                    }
                    continue;
                }
                p.last_reason = verdict.reason;
                if (verdict.verdict == Attempt::Verdict::Fail) {
                    settle(p, false);
                    continue;
                }
                if (!verdict.counts && p.free_used < m_policy.max_free_retries) {
                    ++p.free_used;
                } else {
                    ++p.counted;
                }
                if (m_policy.max_attempts > 0 && p.counted >= m_policy.max_attempts) {
                    settle(p, false);  // exhausted
                    continue;
                }
                ms delay{0};
                if (!verdict.counts) {
                    ++p.refusals;
                    refusals.push_back(verdict.retry_after);
                    delay = m_policy.rate_limit_delay(p.refusals, verdict.retry_after, draw());
                } else {
                    delay = m_policy.delay(p.tries, verdict.retry_after, draw());
                }
                round_wait = std::max(round_wait, delay);
                if (first_reason.empty()) {
                    first_reason = redact(verdict.reason);
                }
                again.push_back(std::move(p));
            }
            if (pacer != nullptr) {
                for (std::size_t k = 0; k < answered; ++k) {
                    pacer->answered();
                }
                for (const auto& after : refusals) {
                    pacer->refused(after, m_policy.rate_limit_pause, draw());
                }
            }
            next += chunk;
        }
        if (again.empty()) {
            break;
        }
        if (pacer != nullptr) {
            round_wait = std::max(round_wait, pacer->wait_before(m_clock.now()));
        }
        spdlog::info("describe {} branch(es): {} to ask again ({}); retrying in {} ms",
                     pending.size(), again.size(), first_reason, round_wait.count());
        if (!wait(round_wait, op(again.front().index))) {
            settle_all(again, true);
            return out;
        }
        pending = std::move(again);
    }
    return out;
}

}  // namespace xbranch
