#include <gtest/gtest.h>

#include <csignal>

#include "fake_edges.hpp"
#include "xbranch/process.hpp"
#include "xbranch/redact.hpp"

namespace xbranch {
namespace {

using V = std::vector<std::string>;

TEST(MergeEnvironment, GivenVariablesReplaceTheParentsAndNewOnesAreAppended) {
    const char* parent[] = {"PATH=/bin", "PGHOST=old", "HOME=/root", nullptr};
    const auto env = merge_environment(parent, {{"PGHOST", "new"}, {"PGPORT", "5432"}});
    EXPECT_EQ(env, (V{"PATH=/bin", "PGHOST=new", "HOME=/root", "PGPORT=5432"}));
}

TEST(MergeEnvironment, ANameGivenTwiceTakesTheFirstValue) {
    const char* parent[] = {"A=1", nullptr};
    EXPECT_EQ(merge_environment(parent, {{"B", "x"}, {"B", "y"}, {"A", "2"}, {"A", "3"}}),
              (V{"A=2", "B=x"}));
}

TEST(MergeEnvironment, NoParentAndEmptyValues) {
    EXPECT_EQ(merge_environment(nullptr, {{"EMPTY", ""}}), (V{"EMPTY="}));
    const char* parent[] = {"NOEQUALS", nullptr};
    EXPECT_EQ(merge_environment(parent, {}), (V{"NOEQUALS"}));
}

V split_all(const std::vector<std::string>& chunks, std::size_t max_line = 1024) {
    LineSplitter s(max_line);
    V out;
    auto sink = [&](std::string_view l) { out.emplace_back(l); };
    for (const auto& c : chunks) {
        s.feed(c, sink);
    }
    s.finish(sink);
    return out;
}

TEST(LineSplitterTest, JoinsChunksAndSplitsAtNewlines) {
    EXPECT_EQ(split_all({"hel", "lo\nwor", "ld\n\nlast"}), (V{"hello", "world", "", "last"}));
}

TEST(LineSplitterTest, DropsCarriageReturnsBeforeNewlines) {
    EXPECT_EQ(split_all({"a\r\nb\r"}), (V{"a", "b"}));
}

TEST(LineSplitterTest, CutsOverlongLines) {
    EXPECT_EQ(split_all({"abcdefg\n"}, 3), (V{"abc", "def", "g"}));
}

TEST(LineSplitterTest, CutsWhereTheChooserSays) {
    V out;
    LineSplitter s(4, [](std::string_view, std::size_t want) { return want - 1; });
    s.feed("abcdefg\n", [&](std::string_view l) { out.emplace_back(l); });
    EXPECT_EQ(out, (V{"abc", "def", "g"}));
    V zero;
    LineSplitter z(3, [](std::string_view, std::size_t) { return std::size_t{0}; });
    z.feed("abcdefg", [&](std::string_view l) { zero.emplace_back(l); });
    EXPECT_EQ(zero, (V{"abc", "def"}));  // 0: cut at max_line anyway (bounded memory)
}

TEST(ProcessResultTest, ShellStatusAndDescription) {
    ProcessResult r;
    r.exit_code = 3;
    EXPECT_EQ(r.shell_status(), 3);
    EXPECT_FALSE(r.succeeded());
    EXPECT_EQ(r.describe(), "exit status 3");
    r.outcome = ProcessResult::Outcome::Signaled;
    r.signal = SIGKILL;
    EXPECT_EQ(r.shell_status(), 137);
    EXPECT_EQ(r.describe(), "killed by signal 9 (SIGKILL)");
    r.stopped = true;
    EXPECT_EQ(r.describe(), "killed by signal 9 (SIGKILL), after xbranch stopped it");
    ProcessResult f;
    f.outcome = ProcessResult::Outcome::FailedToStart;
    f.error = "nope: No such file or directory";
    EXPECT_EQ(f.shell_status(), 127);
    EXPECT_EQ(f.describe(), "could not start: nope: No such file or directory");
    ProcessResult ok;
    EXPECT_TRUE(ok.succeeded());
    ok.stopped = true;
    EXPECT_FALSE(ok.succeeded());
}

TEST(FakeProcessRunnerTest, ReplaysLinesThatTheCallerRedacts) {
    // What create will do with hook output: every line through redact().
    clear_secrets();
    register_secret("hunter2-secret");
    test::FakeProcessRunner runner;
    runner.exits(0, {{OutputStream::Stdout, "connecting with hunter2-secret"},
                     {OutputStream::Stderr, "postgresql://xata:pw-in-url@h/db"}});
    V seen;
    const auto r =
        runner.run_shell("seed.sh", {{{"PGPASSWORD", "hunter2-secret"}}, {}, {}, {}},
                         [&](OutputStream, std::string_view l) { seen.push_back(redact(l)); });
    EXPECT_TRUE(r.succeeded());
    ASSERT_EQ(seen.size(), 2U);
    EXPECT_EQ(seen[0].find("hunter2-secret"), std::string::npos);
    EXPECT_EQ(seen[1].find("pw-in-url"), std::string::npos);
    ASSERT_EQ(runner.envs.size(), 1U);
    EXPECT_EQ(runner.envs[0][0].first, "PGPASSWORD");
    clear_secrets();
}

}  // namespace
}  // namespace xbranch
