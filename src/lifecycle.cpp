#include "xbranch/lifecycle.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "xbranch/redact.hpp"

namespace xbranch {
namespace {

using std::chrono::duration_cast;
using ms = std::chrono::milliseconds;

std::string seconds_text(ms d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(d.count()) / 1000.0);
    return buf;
}

std::string status_text(const BranchStatus& s) {
    std::string out = status_type_name(s.type);
    if (!s.phase.empty()) {
        out += " (" + s.phase + ")";
    }
    out += ", instances " + std::to_string(s.instance_ready_count) + "/" +
           std::to_string(s.instance_count);
    return out;
}

constexpr ms k_rewake_every{30000};
constexpr ms k_unavailable_pause{2000};  // after a poll failed all its retries
constexpr int k_max_rate_limited_posts = 12;

}  // namespace

ms PollSchedule::next(ms elapsed) const {
    const auto proportional = ms{static_cast<long long>(
        std::llround(static_cast<double>(elapsed.count()) * fraction_of_elapsed))};
    return std::clamp(proportional, min_interval, max_interval);
}

void Lifecycle::check_interrupted(const std::string& operation) const {
    if (interrupted()) {
        throw Error(ErrorKind::Interrupted,
                    "interrupted by signal " + std::to_string(interrupt_signal()))
            .with_operation(operation)
            .with_signal(interrupt_signal());
    }
}

std::string Lifecycle::resolve_parent_id(const std::string& parent, bool is_id,
                                         std::optional<Branch>* existing_same_name,
                                         const std::string& branch_name) {
    if (is_id) {
        return parent;
    }
    const auto branches = m_client.list_branches();
    std::optional<std::string> id;
    for (const auto& b : branches) {
        if (b.name == parent) {
            id = b.id;
        }
        if (existing_same_name != nullptr && !branch_name.empty() && b.name == branch_name) {
            *existing_same_name = b;
        }
    }
    if (!id) {
        throw Error(ErrorKind::NotFound, "parent branch '" + parent + "' not found in the project")
            .with_operation("resolve parent branch")
            .with_hint(
                "name an existing branch with --parent NAME|ID (or XATA_BRANCH_NAME / "
                "XATA_BRANCH_ID); "
                "`xbranch list --all` shows them");
    }
    return *id;
}

Branch Lifecycle::adopt(const Branch& existing, const std::string& parent_id,
                        const std::string& name) {
    if (existing.id == parent_id || existing.parent_id.value_or("") != parent_id) {
        throw Error(ErrorKind::Conflict, "branch '" + name + "' already exists (id " + existing.id +
                                             ") with parent " +
                                             existing.parent_id.value_or("none") +
                                             ", not the requested parent " + parent_id)
            .with_operation("create branch " + name)
            .with_hint("that branch is in the way; delete it (xbranch delete --branch-id " +
                       existing.id + ") or pick another name with --branch or --prefix");
    }
    spdlog::info("adopting existing branch {} (id {})", name, existing.id);
    return existing;
}

Branch Lifecycle::create_or_adopt(const CreateRequest& request, const std::string& parent_id,
                                  bool& adopted, bool& created_by_us,
                                  const std::optional<Branch>& already_there) {
    const std::string& name = request.branch_name;
    const std::string op = "create branch " + name;
    if (already_there) {
        adopted = true;
        return adopt(*already_there, parent_id, name);
    }
    bool posted_uncertain = false;  // an earlier POST of ours may have created it
    int limited_posts = 0;
    CreateOutcome last;
    const int attempts = m_client.policy().max_attempts;
    for (int attempt = 1; attempt <= attempts; ++attempt) {
        check_interrupted(op);
        try {
            last = m_client.create_branch(name, parent_id, request.description);
        } catch (Error& e) {
            // A signal during the POST: the branch may exist now. When the
            // listing showed no such branch before, it can only be ours.
            if (e.kind() == ErrorKind::Interrupted && !request.parent_is_id) {
                InterruptShield shield;
                try {
                    if (auto found = m_client.find_branch_by_name(name);
                        found && found->parent_id.value_or("") == parent_id) {
                        cleanup(*found, "interrupted while creating it");
                        e.add_hint("the branch " + name + " created by this run was deleted");
                    }
                } catch (const Error& lookup) {
                    spdlog::warn("could not check for a half-created branch {}: {}", name,
                                 lookup.describe());
                }
            }
            throw;
        }
        switch (last.kind) {
            case CreateOutcome::Kind::Created:
                created_by_us = true;
                return *last.branch;
            case CreateOutcome::Kind::Conflict:
                if (auto found = m_client.find_branch_by_name(name)) {
                    created_by_us = posted_uncertain;
                    adopted = !posted_uncertain;
                    return adopt(*found, parent_id, name);
                }
                spdlog::info("{}: 409 but no branch of that name is listed; trying again", op);
                break;
            case CreateOutcome::Kind::Uncertain:
                spdlog::warn("{}: outcome unknown ({})", op, redact(last.detail));
                posted_uncertain = posted_uncertain || last.maybe_created;
                if (last.maybe_created) {
                    // Never repeat a POST blindly: look the name up first.
                    if (auto found = m_client.find_branch_by_name(name)) {
                        created_by_us = true;
                        return adopt(*found, parent_id, name);
                    }
                }
                break;
        }
        // A POST answered 429 was not performed: waiting out a rate limit does
        // not use up an attempt (up to k_max_rate_limited_posts times).
        const bool rate_limited =
            last.kind == CreateOutcome::Kind::Uncertain && !last.maybe_created && last.last_error &&
            last.last_error->http_status() == 429 && limited_posts < k_max_rate_limited_posts;
        if (rate_limited) {
            ++limited_posts;
            --attempt;
        }
        if (attempt < attempts) {
            std::uniform_real_distribution<double> unit(0.0, 1.0);
            static thread_local std::mt19937_64 rng{std::random_device{}()};
            const auto wait =
                m_client.policy().delay(attempt + limited_posts, last.retry_after, unit(rng));
            spdlog::info("{}: trying again in {} ms", op, wait.count());
            if (!m_clock.sleep_for(wait)) {
                check_interrupted(op);
            }
            // The answer may have been slow to show in the list.
            if (posted_uncertain) {
                if (auto found = m_client.find_branch_by_name(name)) {
                    created_by_us = true;
                    return adopt(*found, parent_id, name);
                }
            }
        }
    }
    Error e(ErrorKind::Unavailable, "the branch could not be created after " +
                                        std::to_string(attempts) +
                                        " attempts; last: " + last.detail);
    if (last.last_error) {
        e = *last.last_error;
        e.with_hint("gave up after " + std::to_string(attempts) + " attempts");
    }
    e.with_operation(op);
    throw e;
}

BranchDetails Lifecycle::wait_ready(const std::string& id, const std::string& name, ms timeout,
                                    const PollSchedule& schedule, ms wake_after, bool wake_now) {
    const auto start = m_clock.now();
    const auto deadline = start + timeout;
    // Plain values, not std::optional: g++ 12 -O3 sees a false "maybe uninitialized".
    bool hibernating = false;
    Clock::TimePoint hibernated_since{};
    bool woken = false;
    Clock::TimePoint last_wake{};
    StatusType last_type = StatusType::Unspecified;
    BranchStatus last_status;
    const std::string op = "wait for branch " + name;
    for (;;) {
        check_interrupted(op);
        BranchDetails d;
        try {
            d = m_client.describe_branch(id);
        } catch (Error& e) {
            if (e.kind() == ErrorKind::NotFound) {
                e.add_hint(
                    "the branch disappeared while xbranch was waiting for it; was it deleted?");
            }
            // A poll that stayed unanswered (429, 5xx, network) after the client's
            // own retries says nothing about the branch: ask again later, until the
            // deadline, rather than give up on (and delete) a branch that is fine.
            const auto now = m_clock.now();
            if (e.kind() != ErrorKind::Unavailable || interrupted() ||
                now + k_unavailable_pause >= deadline) {
                throw;
            }
            spdlog::info("{}: {}; asking again in {} ms", op, redact(e.describe()),
                         k_unavailable_pause.count());
            if (!m_clock.sleep_for(k_unavailable_pause)) {
                check_interrupted(op);
            }
            continue;
        }
        const auto now = m_clock.now();
        const auto elapsed = duration_cast<ms>(now - start);
        last_status = d.status;
        m_progress.update(name, d.status, elapsed);
        if (d.status.type != last_type) {
            spdlog::debug("branch {}: {} after {}", name, status_text(d.status),
                          seconds_text(elapsed));
            last_type = d.status.type;
        }
        switch (d.status.type) {
            case StatusType::Healthy:
                return d;
            case StatusType::Fault:
                throw Error(ErrorKind::Fault,
                            "branch '" + name + "' is in FAULT" +
                                (d.status.phase.empty() ? "" : ": " + d.status.phase))
                    .with_operation(op)
                    .with_hint(
                        "see the branch in the Xata console; xbranch does not retry a faulted "
                        "branch");
            case StatusType::Hibernated: {
                if (!hibernating) {
                    hibernating = true;
                    hibernated_since = now;
                }
                // Right after creation a branch reports HIBERNATED with no
                // instances; only one that stays so (or one we adopted) is woken.
                const bool stayed = now - hibernated_since >= wake_after;
                const bool due = !woken || now - last_wake >= k_rewake_every;
                if ((wake_now || stayed) && due) {
                    m_progress.note("waking hibernated branch " + name);
                    spdlog::info("branch {} is hibernated; waking it", name);
                    m_client.wake_branch(id);
                    woken = true;
                    last_wake = now;
                }
                break;
            }
            default:
                hibernating = false;
                break;
        }
        if (now >= deadline) {
            throw Error(ErrorKind::Timeout, "branch '" + name + "' was not ready after " +
                                                seconds_text(timeout) + "; last status " +
                                                status_text(last_status))
                .with_operation(op)
                .with_hint("raise --timeout, or look at the branch in the Xata console");
        }
        auto wait = std::min(schedule.next(elapsed), duration_cast<ms>(deadline - now));
        wait = std::max(wait, ms{1});
        if (m_progress.wants_ticks()) {
            const auto until = m_clock.now() + wait;
            while (m_clock.now() < until) {
                const auto slice = std::min(ms{100}, duration_cast<ms>(until - m_clock.now()));
                if (slice <= ms{0} || !m_clock.sleep_for(slice)) {
                    break;
                }
                m_progress.tick(duration_cast<ms>(m_clock.now() - start));
            }
        } else {
            m_clock.sleep_for(wait);
        }
    }
}

ConnectionInfo Lifecycle::connection_for(const BranchDetails& details, Endpoint endpoint,
                                         const std::string& sslmode, Clock::TimePoint deadline) {
    const std::string& id = details.branch.id;
    Credentials creds;
    PollSchedule retry_schedule;
    retry_schedule.min_interval = ms{200};
    const auto start = m_clock.now();
    for (;;) {
        check_interrupted("get credentials");
        try {
            creds = m_client.credentials(id);
            break;
        } catch (const Error& e) {
            // Right after readiness the credentials may lag behind for a moment;
            // an unanswered call (429, 5xx) is asked again too, until the deadline.
            if ((e.kind() != ErrorKind::NotFound && e.kind() != ErrorKind::Unavailable) ||
                interrupted() || m_clock.now() >= deadline) {
                throw;
            }
            spdlog::info("credentials of branch {} are not available yet", details.branch.name);
            m_clock.sleep_for(retry_schedule.next(duration_cast<ms>(m_clock.now() - start)));
        }
    }
    ConnectionInfo info;
    info.username = creds.username;
    info.password = creds.password;
    info.sslmode = sslmode;
    info.database = "xata";
    // Host, port and database: the credentials answer's own fields (hosted
    // service), else a URL in it, else the describe answer's URL (Xata Core).
    auto take_url = [&info](const std::optional<std::string>& text) {
        std::optional<ParsedUrl> url = text ? parse_postgres_url(*text) : std::nullopt;
        if (url) {
            info.host = url->host;
            info.port = url->port.value_or(5432);
            if (!url->database.empty()) {
                info.database = url->database;
            }
        }
        return url.has_value();
    };
    if (creds.host) {
        info.host = *creds.host;
        if (creds.port) {
            info.port = *creds.port;
        }
        if (creds.database) {
            info.database = *creds.database;
        }
    } else if (!take_url(creds.connection_string) && !take_url(details.connection_string)) {
        if (details.branch.region.empty()) {
            throw Error(ErrorKind::Protocol,
                        "the API gave no host for branch " + id + " and no region to derive one")
                .with_operation("get credentials of branch " + id);
        }
        info.host = id + "." + details.branch.region + ".xata.tech";
    }
    info.host = apply_endpoint(info.host, endpoint);
    return info;
}

void Lifecycle::cleanup(const Branch& branch, const std::string& why) {
    spdlog::warn("deleting branch {} (id {}) created by this run, because: {}", branch.name,
                 branch.id, redact(why));
    InterruptShield shield;
    try {
        m_client.delete_branch(branch.id);
    } catch (const Error& e) {
        spdlog::error(
            "could not delete branch {} (id {}): {}; delete it with `xbranch delete --branch-id "
            "{}`",
            branch.name, branch.id, e.describe(), branch.id);
    }
}

CreateResult Lifecycle::create(const CreateRequest& request) {
    const auto start = m_clock.now();
    const auto deadline = start + request.timeout;
    CreateResult result;
    std::optional<Branch> existing;
    result.parent_id =
        resolve_parent_id(request.parent, request.parent_is_id, &existing, request.branch_name);
    if (request.branch_name == request.parent) {
        throw Error(ErrorKind::Conflict,
                    "the branch name '" + request.branch_name + "' is the parent's name")
            .with_operation("create branch");
    }
    m_progress.note("creating branch " + request.branch_name + " from " + request.parent);
    Branch b =
        create_or_adopt(request, result.parent_id, result.adopted, result.created_by_us, existing);
    result.branch = b;
    try {
        const auto left = std::max(ms{0}, duration_cast<ms>(deadline - m_clock.now()));
        BranchDetails d =
            wait_ready(b.id, b.name, left, request.schedule, request.wake_after, result.adopted);
        result.status = d.status;
        if (!d.branch.region.empty()) {
            result.branch.region = d.branch.region;
        }
        result.connection = connection_for(d, request.endpoint, request.sslmode, deadline);
    } catch (Error& e) {
        // On SIGTERM/SIGINT the cleanup itself must still be allowed to talk to the API.
        if (result.created_by_us && !request.keep_on_failure) {
            cleanup(b, e.what());
            e.add_hint("the branch " + b.name + " created by this run was deleted");
        } else if (result.created_by_us) {
            e.add_hint("kept branch " + b.name + " (id " + b.id + ") because of --keep-on-failure");
        }
        throw;
    }
    return result;
}

Lifecycle::DeleteResult Lifecycle::remove(const DeleteRequest& req) {
    DeleteResult out;
    auto check_name = [&](const std::string& name, const std::string& id,
                          const std::optional<std::string>& parent) {
        if (name == req.parent || id == req.parent) {
            throw Error(ErrorKind::Conflict,
                        "refusing to delete '" + name + "': it is the configured parent branch")
                .with_operation("delete branch " + name);
        }
        // xbranch only ever makes child branches; a root branch is someone's main database.
        if (!parent || parent->empty()) {
            throw Error(ErrorKind::Conflict,
                        "refusing to delete '" + name + "': it is a root branch (it has no parent)")
                .with_operation("delete branch " + name)
                .with_hint(
                    "xbranch deletes only the child branches it makes; use the Xata console for "
                    "this one");
        }
        if (!req.force && name.rfind(req.prefix, 0) != 0) {
            throw Error(ErrorKind::Usage, "refusing to delete '" + name +
                                              "': its name lacks the prefix '" + req.prefix +
                                              "' of branches xbranch makes")
                .with_operation("delete branch " + name)
                .with_hint("pass --force if you really mean it");
        }
    };
    if (req.id) {
        out.id = *req.id;
        BranchDetails d;
        try {
            d = m_client.describe_branch(*req.id);
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::NotFound) {
                out.deleted = false;
                return out;  // already gone
            }
            throw;
        }
        out.name = d.branch.name;
        check_name(d.branch.name, d.branch.id, d.branch.parent_id);
    } else if (req.name) {
        out.name = *req.name;
        auto found = m_client.find_branch_by_name(*req.name);
        if (!found) {
            return out;  // no such branch: nothing to do
        }
        out.id = found->id;
        check_name(found->name, found->id, found->parent_id);
    } else {
        throw Error(ErrorKind::Usage, "nothing to delete: pass --branch-id, --branch or --sandbox");
    }
    out.deleted = m_client.delete_branch(out.id);
    return out;
}

}  // namespace xbranch
