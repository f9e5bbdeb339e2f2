#include "xbranch/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <string>

#include "xbranch/clock.hpp"
#include "xbranch/error.hpp"

namespace xbranch {
namespace {

using ms = std::chrono::milliseconds;

// For logs and CI: one plain line per phase change, no control characters.
class PlainProgress final : public Progress {
  public:
    explicit PlainProgress(std::FILE* out) : m_out(out) {}

    void update(const std::string& branch, const BranchStatus& status, ms elapsed) override {
        // The phase is the API's text: printable, like every line from outside.
        std::string line = printable(status_text(status, /*with_instances=*/false));
        if (line == m_last) {
            return;
        }
        m_last = line;
        std::fprintf(m_out, "[%6s] branch %s: %s, instances %d/%d\n", seconds_text(elapsed).c_str(),
                     branch.c_str(), line.c_str(), status.instance_ready_count,
                     status.instance_count);
        std::fflush(m_out);
    }
    void note(const std::string& text) override {
        std::fprintf(m_out, "%s\n", printable(text).c_str());
        std::fflush(m_out);
    }

  private:
    std::FILE* m_out;
    std::string m_last;
};

class TerminalProgress;
std::atomic<TerminalProgress*> g_drawing{nullptr};  // the one whose line a log message must clear

// Columns of the terminal behind `out`; 80 when it does not say.
std::size_t terminal_columns(std::FILE* out) {
    struct winsize ws {};
    if (::ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        return ws.ws_col;
    }
    return 80;
}

// For a person: one line, rewritten in place, with a spinner.
class TerminalProgress final : public Progress {
  public:
    TerminalProgress(std::FILE* out, bool color) : m_out(out), m_color(color) {
        g_drawing.store(this);
    }
    ~TerminalProgress() override {
        TerminalProgress* self = this;
        g_drawing.compare_exchange_strong(self, nullptr);
    }
    // g_drawing points at this one object: never copied or moved.
    TerminalProgress(const TerminalProgress&) = delete;
    TerminalProgress& operator=(const TerminalProgress&) = delete;

    void update(const std::string& branch, const BranchStatus& status, ms elapsed) override {
        m_branch = branch;
        m_status = printable(status_text(status, /*with_instances=*/false));
        m_type_name = status_type_name(status.type);
        m_type = status.type;
        draw(elapsed);
    }
    void tick(ms elapsed) override { draw(elapsed); }
    bool wants_ticks() const override { return true; }
    void note(const std::string& text) override {
        clear();
        std::fprintf(m_out, "%s\n", printable(text).c_str());
        std::fflush(m_out);
    }
    void finish() override { clear(); }

    void clear() {
        if (m_drawn) {
            std::fputs("\r\033[K", m_out);
            std::fflush(m_out);
            m_drawn = false;
        }
    }

  private:
    void draw(ms elapsed) {
        static const char* const k_frames[] = {"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"};
        const char* frame = k_frames[m_frame++ % 10];
        // A line as wide as the terminal wraps, and \r\033[K then clears only
        // its last row: keep it within columns - 1, shortening the phase, then
        // the branch name, then dropping the name, then all but the time.
        const std::size_t room = std::max<std::size_t>(terminal_columns(m_out), 2) - 1;
        const std::string secs = seconds_text(elapsed);
        std::string branch = m_branch;
        std::string status = m_status;
        auto width = [&] { return 2 + 12 + branch.size() + 2 + status.size() + 2 + secs.size(); };
        if (width() > room) {
            status = m_type_name;
        }
        if (width() > room && branch.size() > 12) {
            const std::size_t over = width() - room;
            const std::size_t keep = branch.size() > over + 3 ? branch.size() - over - 3 : 0;
            branch = branch.substr(0, std::max<std::size_t>(keep, 9)) + "...";
        }
        const char* on = "";
        const char* off = "";
        if (m_color) {
            on = m_type == StatusType::Healthy ? "\033[32m"
                 : m_type == StatusType::Fault ? "\033[31m"
                                               : "\033[33m";
            off = "\033[0m";
        }
        if (width() <= room) {
            std::fprintf(m_out, "\r\033[K%s waiting for %s  %s%s%s  %s", frame, branch.c_str(), on,
                         status.c_str(), off, secs.c_str());
        } else if (2 + m_type_name.size() + 2 + secs.size() <= room) {
            std::fprintf(m_out, "\r\033[K%s %s%s%s  %s", frame, on, m_type_name.c_str(), off,
                         secs.c_str());
        } else if (2 + secs.size() <= room) {
            std::fprintf(m_out, "\r\033[K%s %s", frame, secs.c_str());
        } else {
            std::fprintf(m_out, "\r\033[K%s", frame);
        }
        std::fflush(m_out);
        m_drawn = true;
    }

    std::FILE* m_out;
    bool m_color;
    bool m_drawn = false;
    unsigned m_frame = 0;
    std::string m_branch;
    std::string m_status = "starting";
    std::string m_type_name = "starting";
    StatusType m_type = StatusType::Unspecified;
};

}  // namespace

void clear_progress_line() {
    if (TerminalProgress* p = g_drawing.load()) {
        p->clear();
    }
}

std::unique_ptr<Progress> make_plain_progress(std::FILE* out) {
    return std::make_unique<PlainProgress>(out);
}

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
