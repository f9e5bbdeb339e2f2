// "did you mean": the nearest known command or flag by edit distance.
#include <gtest/gtest.h>

#include "suggest.hpp"

using namespace xbranch::cli;

namespace {
const std::vector<std::string> k_commands = {"create", "status", "url", "delete",
                                             "list",   "gc",     "run", "reset"};
const std::vector<std::string> k_flags = {"--sandbox", "--sandbox-id", "--timeout", "--ttl",
                                          "--sql",     "--exec",       "--output",  "-o"};
}  // namespace

TEST(Suggest, EditDistanceCountsOneEditEach) {
    EXPECT_EQ(edit_distance("create", "create"), 0u);
    EXPECT_EQ(edit_distance("crate", "create"), 1u);   // a letter missing
    EXPECT_EQ(edit_distance("craete", "create"), 1u);  // two letters swapped
    EXPECT_EQ(edit_distance("creaet", "create"), 1u);
    EXPECT_EQ(edit_distance("cxeate", "create"), 1u);  // one letter wrong
    EXPECT_EQ(edit_distance("", "gc"), 2u);
    EXPECT_EQ(edit_distance("abc", ""), 3u);
    EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(Suggest, ATypoOfACommandNamesIt) {
    EXPECT_EQ(suggestions("crate", k_commands), std::vector<std::string>{"create"});
    EXPECT_EQ(suggestions("lst", k_commands), std::vector<std::string>{"list"});
    EXPECT_EQ(suggestions("delte", k_commands), std::vector<std::string>{"delete"});
    EXPECT_EQ(suggestions("rest", k_commands), std::vector<std::string>{"reset"});
    EXPECT_EQ(did_you_mean("crate", k_commands), " (did you mean 'create'?)");
}

TEST(Suggest, ATypoOfAFlagNamesItBare) {
    EXPECT_EQ(suggestions("--sandbx", k_flags), std::vector<std::string>{"--sandbox"});
    EXPECT_EQ(suggestions("--timout", k_flags), std::vector<std::string>{"--timeout"});
    EXPECT_EQ(did_you_mean("--timout", k_flags), " (did you mean --timeout?)");
    // A single dash for a long flag is one edit.
    EXPECT_EQ(suggestions("-timeout", k_flags), std::vector<std::string>{"--timeout"});
}

TEST(Suggest, TiesAreAllNamedInTheGivenOrder) {
    EXPECT_EQ(suggestions("--sq", k_flags), (std::vector<std::string>{"--sql"}));
    EXPECT_EQ(suggestions("--tl", k_flags), (std::vector<std::string>{"--ttl"}));
    EXPECT_EQ(suggestions("ru", k_commands), (std::vector<std::string>{"run"}));
    const std::vector<std::string> near = {"ab", "xyz", "ac"};
    EXPECT_EQ(suggestions("a", near), (std::vector<std::string>{"ab", "ac"}));
    EXPECT_EQ(did_you_mean("a", near), " (did you mean 'ab' or 'ac'?)");
    EXPECT_EQ(did_you_mean("--ab", {"--abc", "--abd", "--xyz", "--abe"}),
              " (did you mean --abc, --abd or --abe?)");
    EXPECT_EQ(did_you_mean("--sandboxid", k_flags), " (did you mean --sandbox-id?)");
}

TEST(Suggest, NothingCloseSuggestsNothing) {
    EXPECT_TRUE(suggestions("frobnicate", k_commands).empty());
    EXPECT_TRUE(suggestions("--bogus", k_flags).empty());
    EXPECT_TRUE(suggestions("x", k_commands).empty());  // "gc" is 2 edits from a 1-letter word
    EXPECT_TRUE(suggestions("", k_commands).empty());
    EXPECT_TRUE(suggestions("create", k_commands).empty());  // known: no typo
    EXPECT_EQ(did_you_mean("frobnicate", k_commands), "");
    EXPECT_TRUE(suggestions("crate", {}).empty());
}
