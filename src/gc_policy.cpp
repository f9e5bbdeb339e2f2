#include "xbranch/gc_policy.hpp"

#include <fmt/chrono.h>

#include <ctime>
#include <map>

#include "xbranch/naming.hpp"

namespace xbranch {
namespace {

bool starts_with(const std::string& text, const std::string& head) {
    return text.size() >= head.size() && text.compare(0, head.size(), head) == 0;
}

bool is_hash_char(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'v');
}

// The readable part of a derived name: the prefix and the "-<8-char hash>"
// removed. A name without the hash (made by hand or another tool) keeps all
// of it after the prefix.
std::string readable_part(const std::string& name, const std::string& prefix) {
    std::string rest = name.substr(prefix.size());
    const std::size_t n = 8;
    if (rest.size() > n + 1 && rest[rest.size() - n - 1] == '-') {
        bool hash = true;
        for (std::size_t i = rest.size() - n; i < rest.size(); ++i) {
            hash = hash && is_hash_char(rest[i]);
        }
        if (hash) {
            rest.resize(rest.size() - n - 1);
        }
    }
    return rest;
}

// derive_branch_name over every combination of the ids and resources given
// (each list holds "" too); a sandbox name with nothing legal in it derives none.
bool derived_from(const std::string& sandbox, const std::vector<std::string>& ids,
                  const std::vector<std::string>& resources, const std::string& name,
                  const std::string& prefix) {
    for (const auto& id : ids) {
        for (const auto& res : resources) {
            try {
                if (derive_branch_name({sandbox, id, res}, prefix) == name) {
                    return true;
                }
            } catch (const Error&) {
                return false;
            }
        }
    }
    return false;
}

bool is_version_one(const std::string& description) {
    return description.substr(0, description.find(' ')) == k_tag_marker_v1;
}

std::string plural(std::size_t n, const char* what) {
    return std::to_string(n) + " " + what + (n == 1 ? "" : "es");
}

}  // namespace

std::string rfc3339_utc(std::int64_t unix_seconds) {
    return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}",
                       fmt::gmtime(static_cast<std::time_t>(unix_seconds)));
}

const char* gc_reason_name(GcReason reason) {
    switch (reason) {
        case GcReason::Orphan:
            return "orphan";
        case GcReason::Expired:
            return "expired";
        case GcReason::OlderThan:
            return "older-than";
    }
    return "?";
}

bool sandbox_could_own(const LiveSandbox& sandbox, const std::string& name,
                       const std::string& prefix) {
    if (!starts_with(name, prefix) || name.size() == prefix.size()) {
        return false;
    }
    std::vector<std::string> ids = {""};
    if (!sandbox.routing_key.empty()) {
        ids.push_back(sandbox.routing_key);
    }
    std::vector<std::string> resources = {""};
    resources.insert(resources.end(), sandbox.resources.begin(), sandbox.resources.end());
    if (derived_from(sandbox.name, ids, resources, name, prefix)) {
        return true;
    }
    const std::string rest = name.substr(prefix.size());
    const std::string label = sanitize_label(sandbox.name);
    if (!label.empty() && (rest == label || starts_with(rest, label + "-"))) {
        return true;
    }
    // A long sandbox name is cut to fit 63 characters: the part left is a
    // prefix of the sanitised name.
    const std::string readable = readable_part(name, prefix);
    if (name.size() == k_max_branch_name && !readable.empty() && starts_with(label, readable)) {
        return true;
    }
    const std::string key = sanitize_label(sandbox.routing_key);
    return !key.empty() && rest.find(key) != std::string::npos;
}

bool keep_sandbox_matches(const std::string& sandbox, const std::vector<LiveSandbox>& known,
                          const std::string& name, const std::string& prefix) {
    if (!starts_with(name, prefix)) {
        return false;
    }
    std::vector<std::string> ids = {""};
    std::vector<std::string> resources = {""};
    for (const auto& s : known) {
        if (s.name != sandbox) {
            continue;
        }
        if (!s.routing_key.empty()) {
            ids.push_back(s.routing_key);
        }
        resources.insert(resources.end(), s.resources.begin(), s.resources.end());
    }
    if (derived_from(sandbox, ids, resources, name, prefix)) {
        return true;
    }
    const std::string label = sanitize_label(sandbox);
    const std::string readable = readable_part(name, prefix);
    if (label.empty()) {
        return false;
    }
    if (readable == label) {
        return true;
    }
    // Resource and id unknown: try each way the rest of the readable part
    // splits into them. The hash covers the exact identity, so only this
    // sandbox's own names match, never "demo-2"'s for "demo" (resource and
    // id that sanitise to themselves, as plugin names and routing keys do).
    if (readable.size() <= label.size() + 1 || readable.compare(0, label.size() + 1, label + "-")) {
        return false;
    }
    const std::string tail = readable.substr(label.size() + 1);
    std::vector<std::pair<std::string, std::string>> splits = {{tail, ""}, {"", tail}};
    for (std::size_t i = tail.find('-'); i != std::string::npos; i = tail.find('-', i + 1)) {
        splits.emplace_back(tail.substr(0, i), tail.substr(i + 1));
    }
    for (const auto& [res, id] : splits) {
        if (derived_from(sandbox, {id}, {res}, name, prefix)) {
            return true;
        }
    }
    return false;
}

SandboxOwners::SandboxOwners(const std::vector<LiveSandbox>& sandboxes, std::string prefix)
    : m_sandboxes(&sandboxes), m_prefix(std::move(prefix)) {
    // emplace keeps the first sandbox (in list order) for each key.
    for (std::size_t i = 0; i < sandboxes.size(); ++i) {
        const LiveSandbox& s = sandboxes[i];
        std::vector<std::string> ids = {""};
        if (!s.routing_key.empty()) {
            ids.push_back(s.routing_key);
        }
        std::vector<std::string> resources = {""};
        resources.insert(resources.end(), s.resources.begin(), s.resources.end());
        try {
            for (const auto& id : ids) {
                for (const auto& res : resources) {
                    m_derived.emplace(derive_branch_name({s.name, id, res}, m_prefix), i);
                }
            }
        } catch (const Error&) {
            // A name with nothing legal in it derives none (as derived_from).
        }
        const std::string label = sanitize_label(s.name);
        if (!label.empty()) {
            m_labels.emplace(label, i);
            for (std::size_t n = 1; n <= label.size(); ++n) {
                m_label_heads.emplace(label.substr(0, n), i);
            }
        }
        std::string key = sanitize_label(s.routing_key);
        if (!key.empty()) {
            m_keys[key.size()].emplace(std::move(key), i);
        }
    }
}

const LiveSandbox* SandboxOwners::owner(const std::string& name) const {
    if (!starts_with(name, m_prefix) || name.size() == m_prefix.size()) {
        return nullptr;
    }
    std::size_t best = m_sandboxes->size();
    const auto consider = [&best](const Index& index, const std::string& key) {
        if (const auto it = index.find(key); it != index.end() && it->second < best) {
            best = it->second;
        }
    };
    consider(m_derived, name);
    // The sanitised name is all of the rest or its head before a '-'.
    const std::string rest = name.substr(m_prefix.size());
    consider(m_labels, rest);
    for (std::size_t i = rest.find('-'); i != std::string::npos; i = rest.find('-', i + 1)) {
        consider(m_labels, rest.substr(0, i));
    }
    // A long sandbox name cut to fit 63 characters.
    if (name.size() == k_max_branch_name) {
        if (const std::string readable = readable_part(name, m_prefix); !readable.empty()) {
            consider(m_label_heads, readable);
        }
    }
    // A routing key anywhere in the rest.
    for (const auto& [length, keys] : m_keys) {
        for (std::size_t at = 0; at + length <= rest.size(); ++at) {
            consider(keys, rest.substr(at, length));
        }
    }
    return best < m_sandboxes->size() ? &(*m_sandboxes)[best] : nullptr;
}

namespace {

// Rule 1, in every mode: what gc never deletes (the parent, a root branch, a
// parent of other branches, a kept sandbox's branch). Empty: not protected.
std::string protected_why(const Branch& b, const std::map<std::string, std::size_t>& children,
                          const std::vector<LiveSandbox>& sandboxes, const GcPolicyOptions& o) {
    if ((!o.parent_id.empty() && b.id == o.parent_id) ||
        (!o.parent_name.empty() && b.name == o.parent_name)) {
        return "the parent branch";
    }
    if (!b.parent_id || b.parent_id->empty()) {
        return "a root branch";
    }
    if (const auto it = children.find(b.id); it != children.end()) {
        return "parent of " + plural(it->second, "live branch");
    }
    for (const auto& k : o.keep_sandboxes) {
        if (keep_sandbox_matches(k, sandboxes, b.name, o.prefix)) {
            return "sandbox '" + k + "' is kept";
        }
    }
    return {};
}

// What the rules below decide for one branch.
struct Verdict {
    std::optional<GcReason> reason;
    std::vector<std::string> why;  // why each rule that had a say kept it
    bool needs_tag = false;
};

// Rule 2, --expired: the tag's expiry passed (an unread tag must be read first).
void expired_rule(const GcBranch& g, bool read, std::int64_t now, Verdict& v) {
    if (!read) {
        v.needs_tag = true;
        v.why.emplace_back("xbranch tag not read");
    } else if (g.tag && g.tag->expires_at && *g.tag->expires_at <= now) {
        v.reason = GcReason::Expired;
    } else if (g.tag && g.tag->expires_at) {
        v.why.emplace_back("not expired");
    } else if (g.tag) {
        v.why.emplace_back("no expiry");
    } else {
        v.why.emplace_back(has_xbranch_marker(g.branch.description) ? "unreadable tag"
                                                                    : "no xbranch tag");
    }
}

// Rule 3, --orphans: no live sandbox could own it and it is past the grace.
void orphan_rule(const GcCandidate& c, bool run_branch, const SandboxOwners& owners,
                 const GcPolicyOptions& o, Verdict& v) {
    if (run_branch) {
        // Its owner is an `xbranch run` process, not a sandbox: the
        // sandbox list cannot tell whether it still runs.
        v.why.emplace_back(
            "a run branch (no sandbox owns it; --expired or --older-than remove it)");
    } else if (const LiveSandbox* owner = owners.owner(c.branch.name); owner != nullptr) {
        v.why.push_back("live sandbox '" + owner->name + "'");
    } else if (!c.age) {
        v.why.emplace_back("unreadable creation time");
    } else if (*c.age < o.grace) {
        v.why.emplace_back("no live sandbox, but within the grace period");
    } else {
        v.reason = GcReason::Orphan;
    }
}

// Rule 4, --older-than: created at least that long ago.
void older_than_rule(const GcCandidate& c, std::int64_t older_than, Verdict& v) {
    if (!c.age) {
        v.why.emplace_back("unreadable creation time");
    } else if (*c.age >= older_than) {
        v.reason = GcReason::OlderThan;
    } else {
        v.why.emplace_back("younger than the age limit");
    }
}

// Rule 5, last: only what xbranch made goes. The prefix alone is a
// convention anyone can share (a branch made by hand, another tool's); an
// unread description is doubt, and doubt keeps the branch.
void only_xbranchs(const GcBranch& g, bool read, const Verdict& v, GcCandidate& c) {
    c.needs_tag = v.needs_tag;
    if (v.reason && !read) {
        c.needs_tag = true;
        c.kept_why = "xbranch tag not read";
    } else if (v.reason && !g.tag && !has_xbranch_marker(g.branch.description)) {
        c.kept_why = "no xbranch tag";
    } else if (v.reason && !g.tag && is_version_one(g.branch.description)) {
        // This build reads version 1: one it cannot decode is damaged
        // or imitated, not proof. Another version is a newer xbranch's.
        c.kept_why = "unreadable tag";
    } else if (v.reason) {
        c.reason = v.reason;
    } else {
        std::string text;
        for (const auto& w : v.why) {
            text += (text.empty() ? "" : "; ") + w;
        }
        c.kept_why = text.empty() ? "no rule selected it" : text;
    }
}

}  // namespace

std::vector<GcCandidate> select_gc(const std::vector<GcBranch>& branches,
                                   const std::vector<LiveSandbox>& sandboxes, std::int64_t now,
                                   const GcPolicyOptions& o) {
    std::vector<GcCandidate> out;
    if (o.prefix.empty()) {
        return out;
    }
    // Branches that others name as their parent: deleting one would orphan
    // (or, on Xata, fail for) its children.
    std::map<std::string, std::size_t> children;
    for (const auto& g : branches) {
        if (g.branch.parent_id && !g.branch.parent_id->empty() &&
            *g.branch.parent_id != g.branch.id) {
            ++children[*g.branch.parent_id];
        }
    }
    static const std::vector<LiveSandbox> k_none;
    const SandboxOwners owners(o.orphans ? sandboxes : k_none, o.prefix);
    for (const auto& g : branches) {
        const Branch& b = g.branch;
        // `xbranch run`'s own names are xbranch's whatever the prefix.
        const bool prefixed = starts_with(b.name, o.prefix);
        const bool run_branch = !prefixed && starts_with(b.name, std::string(k_run_branch_prefix));
        if (!run_branch && !prefixed) {
            continue;
        }
        GcCandidate c;
        c.branch = b;
        c.tag = g.tag;
        if (auto created = parse_timestamp(b.created_at)) {
            c.age = now > *created ? now - *created : 0;
        }
        c.kept_why = protected_why(b, children, sandboxes, o);
        if (!c.kept_why.empty()) {
            out.push_back(std::move(c));
            continue;
        }
        const bool read = g.description_read || g.tag.has_value();
        Verdict v;
        if (o.expired) {
            expired_rule(g, read, now, v);
        }
        if (o.orphans && !v.reason) {
            orphan_rule(c, run_branch, owners, o, v);
        }
        if (o.older_than && !v.reason) {
            older_than_rule(c, *o.older_than, v);
        }
        only_xbranchs(g, read, v, c);
        out.push_back(std::move(c));
    }
    return out;
}

EmptyListCheck check_empty_sandbox_list(const std::vector<GcCandidate>& candidates,
                                        const std::vector<LiveSandbox>& sandboxes,
                                        const GcPolicyOptions& o) {
    EmptyListCheck out;
    if (!o.orphans || !sandboxes.empty()) {
        return out;
    }
    for (const auto& c : candidates) {
        if (c.reason != GcReason::Orphan) {
            continue;
        }
        ++out.orphans;
        const std::int64_t age = c.age.value_or(0);
        if (!out.youngest || age < *out.youngest) {
            out.youngest = age;
        }
        if (!o.empty_list_min_age || age < *o.empty_list_min_age) {
            ++out.under_min_age;
        }
    }
    out.refuse = out.orphans > 0 && !o.trust_empty_sandbox_list && out.under_min_age > 0;
    return out;
}

}  // namespace xbranch
