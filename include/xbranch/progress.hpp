// What the user sees while create waits: a rewritten line on a terminal, one
// plain line per phase change otherwise.
#pragma once

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "xbranch/xata_types.hpp"

namespace xbranch {

class Progress {
  public:
    virtual ~Progress() = default;
    // The branch's phase as last reported; called after every poll.
    virtual void update(const std::string& branch, const BranchStatus& status,
                        std::chrono::milliseconds elapsed) = 0;
    // Between polls, for spinners; only called when wants_ticks().
    virtual void tick(std::chrono::milliseconds /*elapsed*/) {}
    virtual bool wants_ticks() const { return false; }
    // A step worth telling ("creating branch x from main").
    virtual void note(const std::string& /*text*/) {}
    // Clears any rewritten line.
    virtual void finish() {}
};

class NullProgress final : public Progress {
  public:
    void update(const std::string&, const BranchStatus&, std::chrono::milliseconds) override {}
};

// Picks the terminal form when `out` is a TTY, the plain form otherwise;
// nothing at all when quiet.
std::unique_ptr<Progress> make_progress(std::FILE* out, bool color, bool quiet);

// Clears the terminal form's line, if one is drawn, so that a log message
// written next starts at column 0; the next tick draws the line again.
void clear_progress_line();

// The forms themselves, for tests.
std::unique_ptr<Progress> make_plain_progress(std::FILE* out);
std::unique_ptr<Progress> make_terminal_progress(std::FILE* out, bool color);

}  // namespace xbranch
