// One table per fact: the core's error kinds (kind, exit code, name) and the
// CLI's words for them (meaning, commands) feed exit_code(), kind_name() and
// --help; nothing else decides a code.
#include <gtest/gtest.h>

#include <csignal>
#include <set>

#include "exit_codes.hpp"
#include "xbranch/error.hpp"

namespace xbranch {
namespace {

// Every enumerator, by its underlying value (HookFailed is the last).
std::vector<ErrorKind> every_kind() {
    std::vector<ErrorKind> out;
    for (int i = 0; i <= static_cast<int>(ErrorKind::HookFailed); ++i) {
        out.push_back(static_cast<ErrorKind>(i));
    }
    return out;
}

TEST(ErrorKinds, EveryKindHasOneRowWithItsOwnCode) {
    std::set<int> codes;
    std::set<std::string> names;
    for (const ErrorKind kind : every_kind()) {
        int rows = 0;
        for (const auto& k : error_kinds()) {
            rows += k.kind == kind ? 1 : 0;
        }
        EXPECT_EQ(rows, 1) << static_cast<int>(kind);
        codes.insert(error_kind_info(kind).exit_code);
        names.insert(error_kind_info(kind).name);
        EXPECT_EQ(exit_code(kind), error_kind_info(kind).exit_code);
        EXPECT_STREQ(kind_name(kind), error_kind_info(kind).name);
    }
    EXPECT_EQ(codes.size(), every_kind().size());
    EXPECT_EQ(names.size(), every_kind().size());
    EXPECT_EQ(error_kinds().size(), every_kind().size());
}

TEST(ErrorKinds, TheCodesUsersScriptAgainst) {
    EXPECT_EQ(exit_code(ErrorKind::Internal), 1);
    EXPECT_EQ(exit_code(ErrorKind::Usage), 2);
    EXPECT_EQ(exit_code(ErrorKind::Conflict), 5);
    EXPECT_EQ(exit_code(ErrorKind::Unavailable), 8);
    EXPECT_EQ(exit_code(ErrorKind::NotConnectable), 11);
    EXPECT_EQ(exit_code(ErrorKind::QuotaExceeded), 12);
    EXPECT_EQ(exit_code(ErrorKind::HookFailed), 13);
    EXPECT_EQ(exit_code(ErrorKind::Interrupted), 130);
    EXPECT_EQ(exit_code(ErrorKind::Interrupted, SIGTERM), 143);
    EXPECT_EQ(exit_code(ErrorKind::Interrupted, SIGHUP), 129);
}

TEST(ErrorKinds, InExitCodeOrder) {
    for (std::size_t i = 1; i < error_kinds().size(); ++i) {
        EXPECT_LT(error_kinds()[i - 1].exit_code, error_kinds()[i].exit_code);
    }
}

TEST(ExitCodeWords, EveryKindIsWordedOnce) {
    for (const ErrorKind kind : every_kind()) {
        int rows = 0;
        for (const auto& w : cli::exit_code_words()) {
            rows += w.kind == kind ? 1 : 0;
        }
        EXPECT_EQ(rows, 1) << kind_name(kind);
    }
}

TEST(ExitCodeWords, HelpListsTheRowsACommandCanReturn) {
    const std::string all = cli::exit_codes_help({});
    EXPECT_EQ(all.rfind("Exit codes:\n  0            ok\n  1            a bug in xbranch", 0), 0U)
        << all;
    EXPECT_NE(all.find("\n  130/143/129  interrupted"), std::string::npos);
    EXPECT_NE(all.find("\n  13           a --sql/--exec hook failed"), std::string::npos);
    const std::string list = cli::exit_codes_help("list");
    EXPECT_EQ(list.find("\n  13 "), std::string::npos);
    EXPECT_EQ(list.find("\n  5 "), std::string::npos);
    EXPECT_NE(list.find("\n  8 "), std::string::npos);
    EXPECT_NE(cli::exit_codes_help("gc").find("\n  5 "), std::string::npos);
    EXPECT_NE(cli::exit_codes_help("run").find("\n  12 "), std::string::npos);
}

}  // namespace
}  // namespace xbranch
