#include "github_env.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "app.hpp"
#include "xbranch/error.hpp"
#include "xbranch/github_actions.hpp"
#include "xbranch/outputs.hpp"

namespace xbranch::cli {

void github_mask_secrets(const CreateResult& result, const Environment& env, std::ostream& out) {
    if (env.get("GITHUB_ACTIONS").value_or("") != "true") {
        return;
    }
    // Flushed at once: the masks must reach the runner before any later line.
    out << github::mask_commands(github::output_masks(output_files(output_values(result))))
        << std::flush;
}

void github_write_outputs(const CreateResult& result, const Environment& env) {
    const auto path = env.get("GITHUB_OUTPUT");
    if (!path) {
        return;
    }
    std::string text;
    for (const auto& f : output_files(output_values(result))) {
        text += github::output_entry(f.name, f.value);
    }
    text += github::output_entry("created", result.created_by_us ? "true" : "false");

    // One append of the whole text: other steps' outputs in the same file
    // stay intact, and a reader never sees half an entry of ours.
    const int fd = ::open(path->c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        throw Error(ErrorKind::Io,
                    "cannot open GITHUB_OUTPUT " + *path + ": " + std::strerror(errno))
            .with_hint("GITHUB_OUTPUT must name a writable file (the runner sets it)");
    }
    const char* p = text.data();
    std::size_t left = text.size();
    while (left > 0) {
        const ssize_t n = ::write(fd, p, left);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            const int err = n == 0 ? EIO : errno;
            ::close(fd);
            throw Error(ErrorKind::Io,
                        "cannot write GITHUB_OUTPUT " + *path + ": " + std::strerror(err));
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
    if (::close(fd) != 0) {
        throw Error(ErrorKind::Io,
                    "cannot write GITHUB_OUTPUT " + *path + ": " + std::strerror(errno));
    }
}

}  // namespace xbranch::cli
