#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "xbranch/progress.hpp"

using namespace xbranch;
using std::chrono::milliseconds;

namespace {

class TmpFile {
  public:
    TmpFile() : m_f(std::tmpfile()) {}
    ~TmpFile() {
        if (m_f != nullptr) {
            std::fclose(m_f);
        }
    }
    TmpFile(const TmpFile&) = delete;
    TmpFile& operator=(const TmpFile&) = delete;
    std::FILE* get() const { return m_f; }
    std::string contents() const {
        std::fflush(m_f);
        std::rewind(m_f);
        std::string out;
        char buf[512];
        std::size_t n = 0;
        while ((n = std::fread(buf, 1, sizeof buf, m_f)) > 0) {
            out.append(buf, n);
        }
        return out;
    }

  private:
    std::FILE* m_f;
};

BranchStatus st(StatusType t, const char* phase, int n, int ready) {
    BranchStatus s;
    s.type = t;
    s.phase = phase;
    s.instance_count = n;
    s.instance_ready_count = ready;
    return s;
}

std::size_t count(const std::string& s, const std::string& needle) {
    std::size_t n = 0;
    for (auto p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) {
        ++n;
    }
    return n;
}

void feed(Progress& p) {
    p.note("creating branch sb-x from main");
    p.update("sb-x", st(StatusType::Hibernated, "Cluster hibernated", 0, 0), milliseconds{0});
    p.update("sb-x", st(StatusType::Hibernated, "Cluster hibernated", 0, 0), milliseconds{50});
    p.update("sb-x", st(StatusType::Transient, "Setting up primary", 1, 0), milliseconds{300});
    p.update("sb-x", st(StatusType::Transient, "Setting up primary", 1, 0), milliseconds{400});
    p.update("sb-x", st(StatusType::Transient, "Setting up primary", 1, 0), milliseconds{500});
    p.update("sb-x", st(StatusType::Healthy, "Cluster in healthy state", 1, 1), milliseconds{1234});
    p.finish();
}

}  // namespace

TEST(PlainProgress, OneLinePerPhaseChangeNoControlChars) {
    TmpFile f;
    auto p = make_plain_progress(f.get());
    EXPECT_FALSE(p->wants_ticks());
    feed(*p);
    const std::string out = f.contents();
    EXPECT_EQ(count(out, "\n"), 4U) << out;  // the note and three phases
    EXPECT_EQ(count(out, "HIBERNATED"), 1U);
    EXPECT_EQ(count(out, "TRANSIENT (Setting up primary)"), 1U);
    EXPECT_EQ(count(out, "HEALTHY (Cluster in healthy state)"), 1U);
    EXPECT_NE(out.find("instances 1/1"), std::string::npos);
    EXPECT_NE(out.find("1.2s"), std::string::npos) << out;
    EXPECT_NE(out.find("creating branch sb-x from main\n"), std::string::npos);
    for (char c : out) {
        EXPECT_TRUE(c == '\n' || static_cast<unsigned char>(c) >= 0x20)
            << "control char " << int(c);
    }
}

TEST(TerminalProgress, RewritesOneLineInColour) {
    TmpFile f;
    auto p = make_terminal_progress(f.get(), true);
    EXPECT_TRUE(p->wants_ticks());
    feed(*p);
    p->tick(milliseconds{1300});
    const std::string out = f.contents();
    EXPECT_NE(out.find("\r\033[K"), std::string::npos);
    EXPECT_NE(out.find("\033[32m"), std::string::npos);  // healthy: green
    EXPECT_NE(out.find("\033[33m"), std::string::npos);  // waiting: yellow
    EXPECT_EQ(count(out, "\n"), 1U) << "only the note ends a line";
}

TEST(TerminalProgress, NoColourMeansNoColourCodes) {
    TmpFile f;
    auto p = make_terminal_progress(f.get(), false);
    feed(*p);
    const std::string out = f.contents();
    EXPECT_NE(out.find("\r\033[K"), std::string::npos);
    EXPECT_EQ(out.find("\033[3"), std::string::npos) << out;
    EXPECT_EQ(out.find("\033[0m"), std::string::npos);
    EXPECT_NE(out.find("HEALTHY"), std::string::npos);
}

TEST(TerminalProgress, FinishClearsTheLine) {
    TmpFile f;
    auto p = make_terminal_progress(f.get(), false);
    p->update("sb-x", st(StatusType::Transient, "x", 1, 0), milliseconds{10});
    p->finish();
    const std::string out = f.contents();
    EXPECT_EQ(out.substr(out.size() - 4), "\r\033[K");
}

TEST(MakeProgress, PicksFormByTerminalAndQuiet) {
    TmpFile f;
    auto quiet = make_progress(f.get(), true, true);
    feed(*quiet);
    EXPECT_TRUE(f.contents().empty());
    auto plain = make_progress(f.get(), true, false);  // a file is not a TTY
    EXPECT_FALSE(plain->wants_ticks());
}

// The phase is the API's text: printed escaped, in both kinds of progress.
TEST(Progress, TheApiPhaseAndNotesArePrintedEscaped) {
    for (const bool terminal : {false, true}) {
        TmpFile f;
        auto p = terminal ? make_terminal_progress(f.get(), false) : make_plain_progress(f.get());
        p->note("note \x1b[2J");
        p->update("sb-x", st(StatusType::Transient, "evil \x1b]0;title\x07 \xc2\x9b", 1, 0),
                  milliseconds{10});
        p->finish();
        const std::string out = f.contents();
        EXPECT_NE(out.find("note \\x1b[2J"), std::string::npos) << out;
        EXPECT_NE(out.find("evil \\x1b]0;title\\x07 \\u009b"), std::string::npos) << out;
        EXPECT_EQ(out.find("\x07"), std::string::npos) << out;
        EXPECT_EQ(out.find("\xc2\x9b"), std::string::npos) << out;
        EXPECT_EQ(out.find("\x1b]"), std::string::npos) << out;
        EXPECT_EQ(out.find("\x1b[2J"), std::string::npos) << out;
    }
}
