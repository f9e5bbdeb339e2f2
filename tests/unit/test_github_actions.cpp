#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "fakes.hpp"
#include "xbranch/error.hpp"
#include "xbranch/github_actions.hpp"
#include "xbranch/outputs.hpp"

using namespace xbranch;
using namespace xbranch::github;
using xbranch::test::caught;

namespace {

// Hands out the given candidates in order, then the last one forever.
struct ScriptedDelimiters {
    std::vector<std::string> candidates;
    std::size_t next = 0;
    int calls = 0;
    std::string operator()() {
        ++calls;
        const std::string& d = candidates[std::min(next, candidates.size() - 1)];
        ++next;
        return d;
    }
};

}  // namespace

TEST(GithubActions, EscapesCommandDataLikeTheRunnerUnescapesIt) {
    EXPECT_EQ(escape_command_data("plain"), "plain");
    EXPECT_EQ(escape_command_data("50%"), "50%25");
    EXPECT_EQ(escape_command_data("p%40ss%0A"), "p%2540ss%250A");
    EXPECT_EQ(escape_command_data("a\r\nb"), "a%0D%0Ab");
    EXPECT_EQ(escape_command_data(""), "");
}

TEST(GithubActions, OneMaskPerSecret) {
    const std::string url = "postgresql://xata:s3cr%40t@h.example:5432/app?sslmode=require";
    EXPECT_EQ(mask_commands({"s3cr@t", url}),
              "::add-mask::s3cr@t\n"
              "::add-mask::postgresql://xata:s3cr%2540t@h.example:5432/app?sslmode=require\n");
}

TEST(GithubActions, MasksSkipEmptyAndRepeatedValues) {
    EXPECT_EQ(mask_commands({}), "");
    EXPECT_EQ(mask_commands({"", ""}), "");
    EXPECT_EQ(mask_commands({"pw", "", "pw"}), "::add-mask::pw\n");
}

TEST(GithubActions, MultiLineSecretIsMaskedLineByLine) {
    EXPECT_EQ(mask_commands({"line one\r\nline two\n\nline one\n"}),
              "::add-mask::line one\n::add-mask::line two\n");
}

TEST(GithubActions, NoMaskLineCarriesARawNewline) {
    // Every line the function emits starts a command: a value cannot
    // smuggle a second, unmasked line into the log.
    const std::string out = mask_commands({"a\nb%0Ac\rd"});
    std::size_t start = 0;
    while (start < out.size()) {
        const std::size_t end = out.find('\n', start);
        ASSERT_NE(end, std::string::npos);
        EXPECT_EQ(out.compare(start, 12, "::add-mask::"), 0) << out;
        start = end + 1;
    }
}

TEST(GithubActions, OutputEntryUsesTheHeredocForm) {
    ScriptedDelimiters d{{"DELIM"}};
    EXPECT_EQ(output_entry("branch-id", "br_123", std::ref(d)),
              "branch-id<<DELIM\nbr_123\nDELIM\n");
    EXPECT_EQ(output_entry("empty", "", std::ref(d)), "empty<<DELIM\n\nDELIM\n");
}

TEST(GithubActions, OutputEntryKeepsMultiLineValues) {
    ScriptedDelimiters d{{"EOF_X"}};
    EXPECT_EQ(output_entry("notes", "one\ntwo\n", std::ref(d)),
              "notes<<EOF_X\none\ntwo\n\nEOF_X\n");
}

TEST(GithubActions, DelimiterFoundInTheValueIsDrawnAgain) {
    // The value tries to close the entry and add an output of its own.
    ScriptedDelimiters d{{"EOF", "xEOFx", "SAFE"}};
    const std::string value = "a\nEOF\ninjected<<EOF\nxEOFx\nEOF";
    EXPECT_EQ(output_entry("v", value, std::ref(d)), "v<<SAFE\n" + value + "\nSAFE\n");
    EXPECT_EQ(d.calls, 3);
}

TEST(GithubActions, EmptyOrMultiLineDelimiterIsNotUsed) {
    ScriptedDelimiters d{{"", "A\nB", "OK"}};
    EXPECT_EQ(output_entry("n", "v", std::ref(d)), "n<<OK\nv\nOK\n");
}

TEST(GithubActions, GivesUpWhenEveryDelimiterOccursInTheValue) {
    ScriptedDelimiters d{{"X"}};
    const Error e = caught([&] { output_entry("n", "aXb", std::ref(d)); });
    EXPECT_EQ(e.kind(), ErrorKind::Internal);
    EXPECT_EQ(d.calls, 16);
}

TEST(GithubActions, RejectsOutputNamesThatCouldBreakTheFile) {
    for (const std::string name : {"", "a b", "a<<b", "a\nb", "a=b"}) {
        const Error e = caught([&] { output_entry(name, "v"); });
        EXPECT_EQ(e.kind(), ErrorKind::Internal) << name;
    }
    EXPECT_NO_THROW(output_entry("Branch_name-2", "v"));
}

TEST(GithubActions, RandomDelimitersDifferAndHaveNoLineBreak) {
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
        const std::string d = random_delimiter();
        EXPECT_EQ(d.rfind("ghadelimiter_", 0), 0U);
        EXPECT_EQ(d.size(), 13U + 32U);
        EXPECT_EQ(d.find_first_of("\r\n"), std::string::npos);
        seen.insert(d);
    }
    EXPECT_EQ(seen.size(), 100U);
}

// The runner masks only what it was told: the password's encoded forms (the
// one in xbranch's URL, Python's quote and quote_plus) each get a mask, so
// a hook or a test printing one of them shows ***.
TEST(GithubActions, OutputMasksCoverThePasswordsEncodedForms) {
    OutputValues v;
    v.connection.host = "h.example";
    v.connection.port = 5432;
    v.connection.username = "xata";
    v.connection.password = "p@ss/w rd";
    v.connection.database = "app";
    v.connection.sslmode = "require";
    v.pooled = v.connection;
    v.branch_name = "sb-x";
    v.branch_id = "a00000000000000000000000001";
    const auto masks = output_masks(output_files(v));
    for (const std::string form :
         {"p@ss/w rd", "p%40ss%2Fw%20rd", "p%40ss/w%20rd", "p%40ss%2Fw+rd"}) {
        EXPECT_NE(std::find(masks.begin(), masks.end(), form), masks.end()) << form;
    }
    for (const auto& f : output_files(v)) {
        if (f.secret) {
            EXPECT_NE(std::find(masks.begin(), masks.end(), f.value), masks.end()) << f.name;
        } else {
            EXPECT_EQ(std::find(masks.begin(), masks.end(), f.value), masks.end()) << f.name;
        }
    }
}
