#include "xbranch/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>

#include "xbranch/error.hpp"

namespace xbranch {
namespace fs = std::filesystem;

namespace {

Error io_error(const std::string& what, const fs::path& path, int err) {
    return Error(ErrorKind::Io, what + " " + path.string() + ": " + std::strerror(err));
}

std::string random_suffix() {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char k_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::string s(8, 'x');
    for (auto& c : s) {
        c = k_chars[rng() % 36];
    }
    return s;
}

}  // namespace

fs::path sibling_name(const fs::path& target, const std::string& tag) {
    fs::path p = target;
    p += "." + tag + "-" + random_suffix();
    return p;
}

AtomicFile::AtomicFile(fs::path target, mode_t mode) : m_target(std::move(target)) {
    // mkostemp: a fresh name beside the target, created O_EXCL (never
    // following or reusing something planted there), mode 0600 until fchmod.
    std::string name = m_target.string() + ".tmp-XXXXXX";
    m_fd = ::mkostemp(name.data(), O_CLOEXEC);
    if (m_fd < 0) {
        throw io_error("cannot create", fs::path(name), errno);
    }
    m_temp = name;
    // The umask must not widen or narrow what we promise (0600 for secrets).
    if (::fchmod(m_fd, mode) != 0) {
        const int err = errno;
        ::close(m_fd);
        ::unlink(m_temp.c_str());
        m_fd = -1;
        throw io_error("cannot set the mode of", m_temp, err);
    }
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : m_target(std::move(other.m_target)),
      m_temp(std::move(other.m_temp)),
      m_fd(other.m_fd),
      m_committed(other.m_committed) {
    other.m_fd = -1;
    other.m_committed = true;  // the moved-from object owns nothing to clean up
}

AtomicFile::~AtomicFile() {
    if (m_fd >= 0) {
        ::close(m_fd);
    }
    if (!m_committed && !m_temp.empty()) {
        ::unlink(m_temp.c_str());
    }
}

void AtomicFile::write(const std::string& data) {
    const char* p = data.data();
    std::size_t left = data.size();
    while (left > 0) {
        const ssize_t n = ::write(m_fd, p, left);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw io_error("cannot write", m_temp, errno);
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

void AtomicFile::flush() {
    if (m_fd >= 0) {
        if (::fsync(m_fd) != 0) {
            throw io_error("cannot flush", m_temp, errno);
        }
        const int rc = ::close(m_fd);
        m_fd = -1;
        if (rc != 0) {
            throw io_error("cannot close", m_temp, errno);
        }
    }
}

void AtomicFile::commit() {
    flush();
    if (::rename(m_temp.c_str(), m_target.c_str()) != 0) {
        throw io_error("cannot rename into", m_target, errno);
    }
    m_committed = true;
}

void fsync_dir(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        throw io_error("cannot open folder", dir, errno);
    }
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    // Some file systems cannot fsync a folder (EINVAL): nothing more to do there.
    if (rc != 0 && err != EINVAL) {
        throw io_error("cannot flush folder", dir, err);
    }
}

}  // namespace xbranch
