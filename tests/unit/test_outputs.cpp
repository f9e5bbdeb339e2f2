#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "xbranch/atomic_file.hpp"
#include "xbranch/error.hpp"
#include "xbranch/outputs.hpp"

using namespace xbranch;
namespace fs = std::filesystem;

namespace {

class TempDir {
  public:
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "xbranch-unit-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        m_path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::permissions(m_path, fs::perms::owner_all, fs::perm_options::add, ec);
        fs::remove_all(m_path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const fs::path& path() const { return m_path; }

  private:
    fs::path m_path;
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

unsigned mode_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777U;
}

std::vector<std::string> entries(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) {
        out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

class UmaskGuard {
  public:
    explicit UmaskGuard(mode_t m) : m_old(::umask(m)) {}
    ~UmaskGuard() { ::umask(m_old); }
    UmaskGuard(const UmaskGuard&) = delete;
    UmaskGuard& operator=(const UmaskGuard&) = delete;

  private:
    mode_t m_old;
};

OutputValues sample_result() {
    OutputValues r;
    r.branch_id = "e80atan1sl5khdkr8pkc33fovk";
    r.branch_name = "sb-feat-1a2b3c4d";
    r.region = "us-east-1";
    r.parent_id = "a0000000000000000000000001";
    r.adopted = false;
    r.status = "healthy";
    r.connection.host = "e80atan1sl5khdkr8pkc33fovk.us-east-1.xata.tech";
    r.connection.port = 5432;
    r.connection.database = "xata";
    r.connection.username = "xata";
    r.connection.password = "p@ss w'rd:/?";
    r.connection.sslmode = "require";
    r.pooled = r.connection;
    r.pooled.host = "e80atan1sl5khdkr8pkc33fovk-pooler.us-east-1.xata.tech";
    return r;
}

template <typename F>
ErrorKind kind_of(F f) {
    try {
        f();
    } catch (const Error& e) {
        return e.kind();
    }
    return ErrorKind::Internal;
}

}  // namespace

TEST(AtomicFile, CommitRenamesIntoPlace) {
    TempDir d;
    const auto target = d.path() / "value";
    {
        AtomicFile f(target, 0644);
        EXPECT_TRUE(fs::exists(f.temp_path()));
        EXPECT_EQ(f.temp_path().parent_path(), d.path());
        f.write("hello");
        f.write(" world");
        EXPECT_FALSE(fs::exists(target));
        f.commit();
        EXPECT_FALSE(fs::exists(f.temp_path()));
    }
    EXPECT_EQ(slurp(target), "hello world");
    EXPECT_EQ(entries(d.path()), std::vector<std::string>{"value"});
}

TEST(AtomicFile, CommitReplacesAnExistingFile) {
    TempDir d;
    const auto target = d.path() / "value";
    std::ofstream(target) << "old";
    AtomicFile f(target, 0600);
    f.write("new");
    f.commit();
    EXPECT_EQ(slurp(target), "new");
    EXPECT_EQ(mode_of(target), 0600U);
}

TEST(AtomicFile, DestructorRemovesTempWithoutCommit) {
    TempDir d;
    fs::path temp;
    {
        AtomicFile f(d.path() / "value", 0644);
        temp = f.temp_path();
        f.write("partial");
    }
    EXPECT_FALSE(fs::exists(temp));
    EXPECT_TRUE(entries(d.path()).empty());
}

TEST(AtomicFile, ModeHoldsEvenWithUmaskZeroOrStrict) {
    TempDir d;
    {
        UmaskGuard g(0);
        AtomicFile f(d.path() / "secret", 0600);
        EXPECT_EQ(mode_of(f.temp_path()), 0600U);  // never world-readable, not even before commit
        f.commit();
        AtomicFile g2(d.path() / "plain", 0644);
        g2.commit();
    }
    {
        UmaskGuard g(077);
        AtomicFile f(d.path() / "plain2", 0644);
        f.commit();
    }
    EXPECT_EQ(mode_of(d.path() / "secret"), 0600U);
    EXPECT_EQ(mode_of(d.path() / "plain"), 0644U);
    EXPECT_EQ(mode_of(d.path() / "plain2"), 0644U);
}

TEST(AtomicFile, MissingFolderIsIo) {
    TempDir d;
    EXPECT_EQ(kind_of([&] { AtomicFile f(d.path() / "nope" / "value", 0644); }), ErrorKind::Io);
}

TEST(AtomicFile, MoveTransfersOwnership) {
    TempDir d;
    AtomicFile a(d.path() / "v", 0644);
    a.write("x");
    AtomicFile b(std::move(a));
    b.commit();
    EXPECT_EQ(slurp(d.path() / "v"), "x");
}

TEST(OutputFiles, WritesNineFilesWithModesAndNoNewline) {
    TempDir d;
    UmaskGuard g(022);
    const auto r = sample_result();
    write_output_files(d.path(), output_files(r));
    EXPECT_EQ(entries(d.path()),
              (std::vector<std::string>{"branch-id", "branch-name", "connection-string", "database",
                                        "host", "password", "pooled-connection-string", "port",
                                        "username"}));
    EXPECT_EQ(slurp(d.path() / "branch-name"), r.branch_name);
    EXPECT_EQ(slurp(d.path() / "branch-id"), r.branch_id);
    EXPECT_EQ(slurp(d.path() / "host"), r.connection.host);
    EXPECT_EQ(slurp(d.path() / "port"), "5432");
    EXPECT_EQ(slurp(d.path() / "database"), "xata");
    EXPECT_EQ(slurp(d.path() / "username"), "xata");
    EXPECT_EQ(slurp(d.path() / "password"), "p@ss w'rd:/?");
    EXPECT_EQ(slurp(d.path() / "connection-string"), build_connection_string(r.connection));
    EXPECT_EQ(slurp(d.path() / "pooled-connection-string"), build_connection_string(r.pooled));
    for (const auto& name : entries(d.path())) {
        const std::string v = slurp(d.path() / name);
        EXPECT_FALSE(v.empty()) << name;
        EXPECT_NE(v.back(), '\n') << name;
        const bool secret =
            name == "password" || name == "connection-string" || name == "pooled-connection-string";
        EXPECT_EQ(mode_of(d.path() / name), secret ? 0600U : 0644U) << name;
    }
}

TEST(OutputFiles, FailureMidwayLeavesNoNewFileAndNoTemp) {
    TempDir d;
    // A folder where the last file must go: the last rename fails.
    fs::create_directory(d.path() / "password");
    EXPECT_EQ(kind_of([&] { write_output_files(d.path(), output_files(sample_result())); }),
              ErrorKind::Io);
    EXPECT_EQ(entries(d.path()), std::vector<std::string>{"password"});
}

TEST(OutputFiles, FailureInTheMiddleLeavesNoNewFile) {
    TempDir d;
    fs::create_directory(d.path() / "host");
    EXPECT_EQ(kind_of([&] { write_output_files(d.path(), output_files(sample_result())); }),
              ErrorKind::Io);
    EXPECT_EQ(entries(d.path()), std::vector<std::string>{"host"});
}

TEST(OutputFiles, FailureKeepsThePreviousCompleteSet) {
    TempDir d;
    auto first = sample_result();
    write_output_files(d.path(), output_files(first));
    auto second = first;
    second.branch_name = "sb-other-9z9z9z9z";
    second.branch_id = "b0000000000000000000000002";
    second.connection.password = "new-password";
    // The last rename fails: a folder appears at its name after the checks.
    fs::remove(d.path() / "password");
    fs::create_directory(d.path() / "password");
    EXPECT_EQ(kind_of([&] { write_output_files(d.path(), output_files(second)); }), ErrorKind::Io);
    // Every file that existed holds the first run's value; no temp or kept link is left.
    EXPECT_EQ(slurp(d.path() / "branch-name"), first.branch_name);
    EXPECT_EQ(slurp(d.path() / "branch-id"), first.branch_id);
    EXPECT_EQ(slurp(d.path() / "connection-string"), build_connection_string(first.connection));
    EXPECT_EQ(entries(d.path()),
              (std::vector<std::string>{"branch-id", "branch-name", "connection-string", "database",
                                        "host", "password", "pooled-connection-string", "port",
                                        "username"}));
    EXPECT_EQ(mode_of(d.path() / "connection-string"), 0600U);
}

TEST(OutputFiles, SecondWriteReplacesAndLeavesNoBackups) {
    TempDir d;
    auto first = sample_result();
    write_output_files(d.path(), output_files(first));
    auto second = first;
    second.branch_name = "sb-other-9z9z9z9z";
    write_output_files(d.path(), output_files(second));
    EXPECT_EQ(slurp(d.path() / "branch-name"), second.branch_name);
    EXPECT_EQ(entries(d.path()).size(), 9U);
}

// Staged (written and flushed beside their targets) while the connection
// check runs: no target name exists until commit(), which puts all in place.
TEST(OutputFiles, StagedFilesAppearOnlyAtCommit) {
    TempDir d;
    const auto files = output_files(sample_result());
    StagedOutputs staged(d.path(), files);
    const auto before = entries(d.path());
    EXPECT_EQ(before.size(), files.size());  // the temp files only
    for (const auto& f : files) {
        EXPECT_EQ(std::count(before.begin(), before.end(), f.name), 0) << f.name;
    }
    EXPECT_TRUE(same_files(staged.files(), files));
    staged.commit();
    EXPECT_EQ(entries(d.path()).size(), 9U);
    EXPECT_EQ(slurp(d.path() / "branch-name"), sample_result().branch_name);
    EXPECT_EQ(mode_of(d.path() / "password"), 0600U);
}

// A create that fails after staging: the folder keeps exactly the old set.
TEST(OutputFiles, StagedButNotCommittedLeavesTheFolderAsItWas) {
    TempDir d;
    auto first = sample_result();
    write_output_files(d.path(), output_files(first));
    auto second = first;
    second.branch_name = "sb-other-9z9z9z9z";
    {
        StagedOutputs staged(d.path(), output_files(second));
        EXPECT_FALSE(same_files(staged.files(), output_files(first)));
    }
    EXPECT_EQ(entries(d.path()).size(), 9U);
    EXPECT_EQ(slurp(d.path() / "branch-name"), first.branch_name);
}

TEST(OutputFiles, MissingFolderIsIoAndCreatesNothing) {
    TempDir d;
    EXPECT_EQ(
        kind_of([&] { write_output_files(d.path() / "missing", output_files(sample_result())); }),
        ErrorKind::Io);
    EXPECT_TRUE(entries(d.path()).empty());
}

TEST(Preflight, CreatesMissingFolderWhoseParentExists) {
    TempDir d;
    const auto out = d.path() / "out";
    preflight_output_dir(out).keep();
    EXPECT_TRUE(fs::is_directory(out));
    EXPECT_TRUE(entries(out).empty());  // the probe is gone
    preflight_output_dir(out).keep();   // existing folder: fine
    EXPECT_TRUE(entries(out).empty());
}

TEST(Preflight, CreatesMissingParentsLikeMkdirP) {
    TempDir d;
    UmaskGuard g(077);
    preflight_output_dir(d.path() / "a" / "b").keep();
    EXPECT_TRUE(fs::is_directory(d.path() / "a" / "b"));
    EXPECT_EQ(mode_of(d.path() / "a"), 0700U);  // mkdir -p: 0755 under the umask
}

// An empty path is the working folder to the file system: refused before
// any branch exists (a plugin template's unset variable).
TEST(Preflight, AnEmptyPathIsAUsageError) {
    EXPECT_EQ(kind_of([&] { (void)preflight_output_dir(fs::path{}); }), ErrorKind::Usage);
    EXPECT_EQ(kind_of([&] { write_output_files(fs::path{}, {}); }), ErrorKind::Usage);
}

TEST(Preflight, FailsForNonFolder) {
    TempDir d;

    const auto file = d.path() / "file";
    std::ofstream(file) << "x";
    EXPECT_EQ(kind_of([&] { (void)preflight_output_dir(file); }), ErrorKind::Io);
    // A path below a regular file (fails even for root) says so.
    try {
        (void)preflight_output_dir(file / "out" / "deeper");
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Io);
        EXPECT_NE(std::string(e.what()).find(file.string() + " is a file, not a folder"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_EQ(slurp(file), "x");
}

TEST(Preflight, FailsForAFolderAtATargetName) {
    TempDir d;
    fs::create_directory(d.path() / "password");
    EXPECT_EQ(kind_of([&] { (void)preflight_output_dir(d.path()); }), ErrorKind::Io);
    EXPECT_EQ(entries(d.path()), std::vector<std::string>{"password"});
    // A plain old file or a symlink at a target name is fine: rename replaces it.
    TempDir e;
    std::ofstream(e.path() / "host") << "old";
    fs::create_symlink("/nonexistent", e.path() / "port");
    preflight_output_dir(e.path()).keep();
}

TEST(Preflight, FailsForFolderNobodyMayWriteIn) {
    // /proc/self is a folder nobody may create files in, root included.
    ASSERT_TRUE(fs::is_directory("/proc/self"));
    EXPECT_EQ(kind_of([] { (void)preflight_output_dir("/proc/self"); }), ErrorKind::Io);
}

TEST(Preflight, FailsForReadOnlyFolder) {
    TempDir d;
    const auto ro = d.path() / "ro";
    fs::create_directory(ro);
    fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                            fs::perms::group_exec | fs::perms::others_read |
                            fs::perms::others_exec);
    if (::geteuid() != 0) {
        EXPECT_EQ(kind_of([&] { (void)preflight_output_dir(ro); }), ErrorKind::Io);
        return;
    }
    // Permission bits do not stop root: check as user nobody in a child.
    fs::permissions(d.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        if (::setgid(65534) != 0 || ::setuid(65534) != 0) {
            ::_exit(3);
        }
        ::_exit(kind_of([&] { (void)preflight_output_dir(ro); }) == ErrorKind::Io ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "1: not an Io error; 3: could not become nobody";
}

TEST(Render, JsonHasDocumentedKeysAndMasksPassword) {
    const auto r = sample_result();
    const auto j = nlohmann::json::parse(render(r, OutputFormat::Json, false));
    EXPECT_EQ(j["branch"]["name"], r.branch_name);
    EXPECT_EQ(j["branch"]["id"], r.branch_id);
    EXPECT_EQ(j["branch"]["parentID"], r.parent_id);
    EXPECT_EQ(j["branch"]["adopted"], false);
    EXPECT_EQ(j["connection"]["host"], r.connection.host);
    EXPECT_EQ(j["connection"]["port"], 5432);
    EXPECT_EQ(j["connection"]["database"], "xata");
    EXPECT_EQ(j["connection"]["username"], "xata");
    EXPECT_EQ(j["connection"]["password"], "********");
    EXPECT_EQ(j["connection"]["sslmode"], "require");
    EXPECT_EQ(j["connection"]["connectionString"], build_connection_string(r.connection, true));
    EXPECT_EQ(render(r, OutputFormat::Json, false).find("p@ss"), std::string::npos);

    const auto shown = nlohmann::json::parse(render(r, OutputFormat::Json, true));
    EXPECT_EQ(shown["connection"]["password"], r.connection.password);
    EXPECT_EQ(shown["connection"]["connectionString"], build_connection_string(r.connection));
}

TEST(Render, TextAndEnvMaskUnlessShowSecrets) {
    const auto r = sample_result();
    const std::string encoded = "p%40ss%20w%27rd%3A%2F%3F";
    for (auto f : {OutputFormat::Text, OutputFormat::Env}) {
        const auto masked = render(r, f, false);
        EXPECT_EQ(masked.find("p@ss"), std::string::npos) << masked;
        EXPECT_EQ(masked.find(encoded), std::string::npos) << masked;
        EXPECT_NE(masked.find("********"), std::string::npos) << masked;
        EXPECT_NE(masked.find(r.branch_name), std::string::npos);
        const auto shown = render(r, f, true);
        EXPECT_NE(shown.find(encoded), std::string::npos) << shown;
    }
    const auto env = render(r, OutputFormat::Env, true);
    EXPECT_NE(env.find("export PGPASSWORD='p@ss w'\\''rd:/?'\n"), std::string::npos) << env;
    EXPECT_NE(env.find("export PGHOST='" + r.connection.host + "'\n"), std::string::npos);
    EXPECT_NE(env.find("export PGPORT='5432'\n"), std::string::npos);
    EXPECT_NE(env.find("export XBRANCH_BRANCH_ID='" + r.branch_id + "'\n"), std::string::npos);
    // Every line is exported, so eval hands the values to child processes.
    std::istringstream lines(env);
    for (std::string line; std::getline(lines, line);) {
        EXPECT_EQ(line.rfind("export ", 0), 0U) << line;
    }

    auto adopted = r;
    adopted.adopted = true;
    EXPECT_EQ(render(adopted, OutputFormat::Text, false).rfind("Adopted existing branch", 0), 0U);
    EXPECT_EQ(render(r, OutputFormat::Text, false).rfind("Created branch", 0), 0U);
}

TEST(RemoveOutputFiles, RemovesTheSetAndNothingElse) {
    TempDir d;
    write_output_files(d.path(), output_files(sample_result()));
    std::ofstream(d.path() / "mine.txt") << "not xbranch's";
    EXPECT_EQ(remove_output_files(d.path()), 9U);
    EXPECT_EQ(entries(d.path()), std::vector<std::string>{"mine.txt"});
    // Nothing left to remove: not an error.
    EXPECT_EQ(remove_output_files(d.path()), 0U);
}

TEST(RemoveOutputFiles, APartialSetIsRemovedToo) {
    TempDir d;
    std::ofstream(d.path() / "branch-id") << "old";
    EXPECT_EQ(remove_output_files(d.path()), 1U);
    EXPECT_TRUE(entries(d.path()).empty());
}

TEST(RemoveOutputFiles, AFailureHalfwayPutsEveryFileBack) {
    TempDir d;
    const auto values = sample_result();
    write_output_files(d.path(), output_files(values));
    // The third name cannot even be checked (a path below a regular file):
    // the two moved aside before it come back, under their own names.
    EXPECT_EQ(kind_of([&] {
                  remove_output_files(d.path(), {"branch-name", "branch-id", "host/x", "port"});
              }),
              ErrorKind::Io);
    EXPECT_EQ(entries(d.path()).size(), 9U);
    EXPECT_EQ(slurp(d.path() / "branch-name"), values.branch_name);
    EXPECT_EQ(slurp(d.path() / "branch-id"), values.branch_id);
}

// A failed create takes away the folders its preflight made, innermost
// first, and only while they are empty; never one that was there before.
TEST(Preflight, TheFoldersItMadeGoAgainUnlessKept) {
    TempDir d;
    const auto deep = d.path() / "a" / "b" / "c";
    {
        MadeFolders made = preflight_output_dir(deep);
        EXPECT_EQ(made.paths(),
                  (std::vector<fs::path>{d.path() / "a", d.path() / "a" / "b", deep}));
        EXPECT_TRUE(fs::is_directory(deep));
    }
    EXPECT_TRUE(fs::is_directory(d.path()));  // there before
    EXPECT_FALSE(fs::exists(d.path() / "a"));

    fs::create_directory(d.path() / "a");  // there before: stays
    {
        MadeFolders made = preflight_output_dir(deep);
        EXPECT_EQ(made.paths(), (std::vector<fs::path>{d.path() / "a" / "b", deep}));
    }
    EXPECT_EQ(entries(d.path() / "a"), std::vector<std::string>{});

    {
        MadeFolders made = preflight_output_dir(deep);
        made.keep();  // handed over
    }
    EXPECT_TRUE(fs::is_directory(deep));

    fs::remove_all(d.path() / "a" / "b");
    {
        MadeFolders made = preflight_output_dir(deep);
        write_output_files(deep, output_files(sample_result()));  // written: stays
    }
    EXPECT_EQ(entries(deep).size(), output_file_names().size());

    // An existing folder yields nothing to remove.
    EXPECT_TRUE(preflight_output_dir(deep).paths().empty());
}

TEST(Preflight, AFailedPreflightTakesAwayWhatItMade) {
    TempDir d;
    // "new" is made, then the name below it is too long for the file system.
    const fs::path bad = d.path() / "new" / std::string(300, 'x');
    EXPECT_EQ(kind_of([&] { (void)preflight_output_dir(bad); }), ErrorKind::Io);
    EXPECT_EQ(entries(d.path()), std::vector<std::string>{});
}

// reset's replacedId is one of the output values, rendered with the rest
// (it was spliced into the rendered text afterwards).
TEST(RenderReplaced, ResetNamesTheIdItReplacedCreateDoesNot) {
    OutputValues v = sample_result();
    EXPECT_EQ(render(v, OutputFormat::Json, false).find("replacedId"), std::string::npos);
    EXPECT_EQ(render(v, OutputFormat::Text, false).find("replaced"), std::string::npos);

    v.replaced_id = "olda0000000000000000000001";
    const auto j = nlohmann::json::parse(render(v, OutputFormat::Json, false));
    EXPECT_EQ(j["replacedId"], "olda0000000000000000000001");
    const std::string text = render(v, OutputFormat::Text, false);
    const std::string id_line = "  id          " + v.branch_id + "\n";
    EXPECT_NE(text.find(id_line + "  replaced    olda0000000000000000000001 -> " + v.branch_id +
                        "\n  parent"),
              std::string::npos)
        << text;
    EXPECT_EQ(render(v, OutputFormat::Env, false).find("olda"), std::string::npos);

    v.replaced_id = "";
    EXPECT_TRUE(
        nlohmann::json::parse(render(v, OutputFormat::Json, false))["replacedId"].is_null());
    EXPECT_NE(render(v, OutputFormat::Text, false)
                  .find(id_line + "  replaced    nothing (there was no branch)\n"),
              std::string::npos);
}
