#include "xbranch/progress.hpp"

#include <unistd.h>

#include <string>

namespace xbranch {
namespace {

using ms = std::chrono::milliseconds;

std::string seconds(ms d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(d.count()) / 1000.0);
    return buf;
}

std::string describe(const BranchStatus& s) {
    std::string out = status_type_name(s.type);
    if (!s.phase.empty()) {
        out += " (" + s.phase + ")";
    }
    return out;
}

// For logs and CI: one plain line per phase change, no control characters.
class PlainProgress final : public Progress {
public:
    explicit PlainProgress(std::FILE* out) : m_out(out) {}

    void update(const std::string& branch, const BranchStatus& status, ms elapsed) override {
        std::string line = describe(status);
        if (line == m_last) {
            return;
        }
        m_last = line;
        std::fprintf(m_out, "[%6s] branch %s: %s, instances %d/%d\n", seconds(elapsed).c_str(),
                     branch.c_str(), line.c_str(), status.instance_ready_count, status.instance_count);
        std::fflush(m_out);
    }
    void note(const std::string& text) override {
        std::fprintf(m_out, "%s\n", text.c_str());
        std::fflush(m_out);
    }

private:
    std::FILE* m_out;
    std::string m_last;
};

// For a person: one line, rewritten in place, with a spinner.
class TerminalProgress final : public Progress {
public:
    TerminalProgress(std::FILE* out, bool color) : m_out(out), m_color(color) {}

    void update(const std::string& branch, const BranchStatus& status, ms elapsed) override {
        m_branch = branch;
        m_status = describe(status);
        m_type = status.type;
        draw(elapsed);
    }
    void tick(ms elapsed) override { draw(elapsed); }
    bool wants_ticks() const override { return true; }
    void note(const std::string& text) override {
        clear();
        std::fprintf(m_out, "%s\n", text.c_str());
        std::fflush(m_out);
    }
    void finish() override { clear(); }

private:
    void clear() {
        if (m_drawn) {
            std::fputs("\r\033[K", m_out);
            std::fflush(m_out);
            m_drawn = false;
        }
    }
    void draw(ms elapsed) {
        static const char* const k_frames[] = {"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"};
        const char* frame = k_frames[m_frame++ % 10];
        const char* on = "";
        const char* off = "";
        if (m_color) {
            on = m_type == StatusType::Healthy ? "\033[32m" : m_type == StatusType::Fault ? "\033[31m" : "\033[33m";
            off = "\033[0m";
        }
        std::fprintf(m_out, "\r\033[K%s waiting for %s  %s%s%s  %s", frame, m_branch.c_str(), on,
                     m_status.c_str(), off, seconds(elapsed).c_str());
        std::fflush(m_out);
        m_drawn = true;
    }

    std::FILE* m_out;
    bool m_color;
    bool m_drawn = false;
    unsigned m_frame = 0;
    std::string m_branch;
    std::string m_status = "starting";
    StatusType m_type = StatusType::Unspecified;
};

}  // namespace

std::unique_ptr<Progress> make_plain_progress(std::FILE* out) { return std::make_unique<PlainProgress>(out); }

std::unique_ptr<Progress> make_terminal_progress(std::FILE* out, bool color) {
    return std::make_unique<TerminalProgress>(out, color);
}

std::unique_ptr<Progress> make_progress(std::FILE* out, bool color, bool quiet) {
    if (quiet) {
        return std::make_unique<NullProgress>();
    }
    if (isatty(fileno(out)) != 0) {
        return make_terminal_progress(out, color);
    }
    return make_plain_progress(out);
}

}  // namespace xbranch
