#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "xbranch/psql.hpp"

namespace xbranch {
namespace {

ConnectionInfo sample() {
    ConnectionInfo info;
    info.host = "abc.eu.xata.tech";
    info.port = 5433;
    info.database = "app";
    info.username = "xata";
    info.password = "s3cr'et\\pw";
    info.sslmode = "verify-full";
    return info;
}

TEST(BuildConninfo, QuotesEveryValueAndLeavesThePasswordOut) {
    ConnectionInfo info = sample();
    info.database = "it's \\ db";
    EXPECT_EQ(build_conninfo(info),
              "host='abc.eu.xata.tech' port='5433' dbname='it\\'s \\\\ db' user='xata' "
              "sslmode='verify-full'");
    info.sslmode.clear();
    EXPECT_EQ(build_conninfo(info).find("sslmode"), std::string::npos);
}

TEST(PsqlCommand, PasswordOnlyInTheEnvironment) {
    const ClientCommand cmd = psql_command("/usr/bin/psql", sample(), {"-X", "-c", "select 1"});
    ASSERT_EQ(cmd.argv.size(), 5U);
    EXPECT_EQ(cmd.argv[0], "/usr/bin/psql");
    EXPECT_EQ(cmd.argv[1].rfind("--dbname=host=", 0), 0U);
    EXPECT_EQ(cmd.argv[2], "-X");
    EXPECT_EQ(cmd.argv[4], "select 1");
    for (const auto& arg : cmd.argv) {
        EXPECT_EQ(arg.find("s3cr"), std::string::npos) << arg;
    }
    ASSERT_EQ(cmd.env.size(), 1U);
    EXPECT_EQ(cmd.env[0].first, "PGPASSWORD");
    EXPECT_EQ(cmd.env[0].second, "s3cr'et\\pw");
}

class FindExecutable : public ::testing::Test {
  protected:
    void SetUp() override {
        // Under the test run's TMPDIR, never /tmp itself.
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "xbranch-psql-test.XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir = tmpl;
        std::filesystem::create_directories(dir + "/a");
        std::filesystem::create_directories(dir + "/b");
        touch(dir + "/a/tool", 0644);  // not executable: skipped
        touch(dir + "/b/tool", 0755);
        std::filesystem::create_directories(dir + "/c/tool");  // a directory: skipped
    }
    void TearDown() override { std::filesystem::remove_all(dir); }
    static void touch(const std::string& path, mode_t mode) {
        std::ofstream(path) << "#!/bin/sh\n";
        ::chmod(path.c_str(), mode);
    }
    std::string dir;
};

TEST_F(FindExecutable, FirstExecutableRegularFileInPathOrder) {
    EXPECT_EQ(find_executable("tool", dir + "/c:" + dir + "/a:" + dir + "/b"), dir + "/b/tool");
    EXPECT_EQ(find_executable("tool", dir + "/a"), std::nullopt);
    EXPECT_EQ(find_executable("tool", ""), std::nullopt);
    EXPECT_EQ(find_executable("", dir + "/b"), std::nullopt);
}

TEST_F(FindExecutable, ANameWithASlashIsTakenAsItIs) {
    EXPECT_EQ(find_executable(dir + "/b/tool", "/nonexistent"), dir + "/b/tool");
    EXPECT_EQ(find_executable(dir + "/a/tool", dir + "/b"), std::nullopt);
}

}  // namespace
}  // namespace xbranch
