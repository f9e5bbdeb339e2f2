// Orphan matching at fleet scale (issue 21): which live sandbox could own a
// branch, found through maps built once, must equal the pair-by-pair rule
// (sandbox_could_own over the list in order) on varied input, and stay
// linear in branches + sandboxes.
#include <gtest/gtest.h>

#include <ctime>
#include <random>

#include "xbranch/gc_policy.hpp"
#include "xbranch/naming.hpp"

namespace xbranch {
namespace {

// The old rule: the first sandbox in list order that could own `name`.
const LiveSandbox* owner_pair_by_pair(const std::vector<LiveSandbox>& sandboxes,
                                      const std::string& name, const std::string& prefix) {
    for (const auto& s : sandboxes) {
        if (sandbox_could_own(s, name, prefix)) {
            return &s;
        }
    }
    return nullptr;
}

std::string pick(std::mt19937& rng, const std::vector<std::string>& from) {
    return from[std::uniform_int_distribution<std::size_t>(0, from.size() - 1)(rng)];
}

// Sandboxes with names that share heads, long names cut to 63 characters,
// odd characters, routing keys inside other names, resources or none.
std::vector<LiveSandbox> varied_sandboxes(std::mt19937& rng, int n) {
    const std::vector<std::string> heads = {
        "demo",
        "demo-2",
        "Demo_App",
        "feature",
        "feature-login",
        "x",
        "__",
        "pr-12",
        std::string(70, 'a'),
        "a-very-long-sandbox-name-that-will-not-fit-in-one-dns-label-at-all"};
    const std::vector<std::string> keys = {"", "", "rk1", "abc", "demo", "Z9", "1"};
    const std::vector<std::string> resources = {"db", "pg", "orders-db", "Db_2", ""};
    std::vector<LiveSandbox> out;
    for (int i = 0; i < n; ++i) {
        LiveSandbox s;
        s.name = pick(rng, heads) + (i % 3 == 0 ? "" : "-" + std::to_string(i % 17));
        s.routing_key = pick(rng, keys);
        for (int r = 0, k = i % 3; r < k; ++r) {
            s.resources.push_back(pick(rng, resources));
        }
        out.push_back(std::move(s));
    }
    return out;
}

// Branch names: derived from listed sandboxes and from unlisted ones,
// by hand, cut, with the prefix only, without it.
std::vector<std::string> varied_names(std::mt19937& rng, const std::vector<LiveSandbox>& sb,
                                      const std::string& prefix, int n) {
    const std::vector<std::string> odd = {
        prefix,         prefix + "demo",   prefix + "demo-",     prefix + "demo-2-x",
        prefix + "rk1", prefix + "xx-abc", prefix + "feature-l", "other-demo",
        prefix + "a",   prefix + "1",      prefix + "zz9zz",     prefix + std::string(60, 'a')};
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
        const LiveSandbox& s = sb[static_cast<std::size_t>(i) % sb.size()];
        switch (i % 4) {
            case 0:
                try {
                    out.push_back(
                        derive_branch_name({s.name, i % 8 == 0 ? s.routing_key : "",
                                            s.resources.empty() ? "" : s.resources.front()},
                                           prefix));
                } catch (const Error&) {
                    out.push_back(prefix + "bad");
                }
                break;
            case 1:
                out.push_back(derive_branch_name({"gone-" + std::to_string(i), "", "db"}, prefix));
                break;
            case 2:
                out.push_back(pick(rng, odd));
                break;
            default:
                out.push_back(prefix + sanitize_label(s.name).substr(0, 5) + "-" +
                              std::to_string(i));
        }
    }
    return out;
}

TEST(GcOwners, EqualsThePairByPairRuleOnVariedInput) {
    for (const std::string prefix : {"sb-", "pr-"}) {
        for (unsigned seed = 1; seed <= 20; ++seed) {
            std::mt19937 rng(seed);
            const auto sandboxes = varied_sandboxes(rng, 5 + static_cast<int>(seed) * 3);
            const auto names = varied_names(rng, sandboxes, prefix, 200);
            const SandboxOwners owners(sandboxes, prefix);
            for (const auto& name : names) {
                const LiveSandbox* want = owner_pair_by_pair(sandboxes, name, prefix);
                const LiveSandbox* got = owners.owner(name);
                ASSERT_EQ(got, want)
                    << "seed " << seed << " name " << name << ": want "
                    << (want ? want->name : "none") << ", got " << (got ? got->name : "none");
            }
        }
    }
}

TEST(GcOwners, ListOrderDecidesWhichSandboxIsNamed) {
    const std::vector<LiveSandbox> sandboxes = {{"demo", "", {}}, {"demo-2", "", {}}};
    const SandboxOwners owners(sandboxes, "sb-");
    // "sb-demo-2" starts with "demo-": the first sandbox explains it already.
    EXPECT_EQ(owners.owner("sb-demo-2"), &sandboxes[0]);
    EXPECT_EQ(owners.owner("sb-other"), nullptr);
    EXPECT_EQ(owners.owner("sb-"), nullptr);
    EXPECT_EQ(owners.owner("xx-demo"), nullptr);
}

// The figure issue 21 asks for: --orphans' selection at 1,000 branches x
// 1,000 live sandboxes, in CPU time (target: at most 100 ms).
TEST(GcOwners, OrphanSelectionAtOneThousandByOneThousand) {
    std::vector<LiveSandbox> sandboxes;
    std::vector<GcBranch> branches;
    for (int i = 0; i < 1000; ++i) {
        sandboxes.push_back({"sandbox-" + std::to_string(i), "zk" + std::to_string(i), {"db"}});
    }
    for (int i = 0; i < 1000; ++i) {
        Branch b;
        b.id = "id" + std::to_string(i);
        // Half owned by a live sandbox, half orphans.
        b.name = derive_branch_name({(i % 2 ? "sandbox-" : "gone-") + std::to_string(i), "", "db"},
                                    "sb-");
        b.parent_id = "root";
        b.created_at = "2025-01-01T00:00:00Z";
        BranchTag tag{"abcdefghij", std::nullopt, HookState::None, "", ""};
        b.description = encode_tag(tag);
        branches.push_back({b, tag, true});
    }
    GcPolicyOptions o;
    o.prefix = "sb-";
    o.parent_name = "main";
    o.orphans = true;
    const std::clock_t start = std::clock();
    const auto out = select_gc(branches, sandboxes, 1746094830, o);
    const double cpu_ms = 1000.0 * static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
    std::size_t orphans = 0;
    for (const auto& c : out) {
        orphans += c.deletes() ? 1U : 0U;
    }
    EXPECT_EQ(orphans, 500U);
    // The old rule over a tenth of the same branches, times ten, for the
    // figure alongside (all of them take seconds in a Debug build).
    const std::clock_t old_start = std::clock();
    std::size_t owned = 0;
    for (std::size_t i = 0; i < branches.size(); i += 10) {
        owned += owner_pair_by_pair(sandboxes, branches[i + 1].branch.name, o.prefix) != nullptr
                     ? 1U
                     : 0U;
    }
    const double old_ms =
        10 * 1000.0 * static_cast<double>(std::clock() - old_start) / CLOCKS_PER_SEC;
    EXPECT_EQ(owned, 100U);
    std::printf(
        "gc --orphans selection, 1000 branches x 1000 sandboxes: %.1f ms CPU "
        "(pair by pair: about %.0f ms)\n",
        cpu_ms, old_ms);
    RecordProperty("cpu_ms", std::to_string(cpu_ms));
    // No bound on the time here (a sanitizer build or a busy machine would
    // flake it): the benchmark prints and judges the figure in a Release build.
}

}  // namespace
}  // namespace xbranch
