#include "xbranch/outputs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "xbranch/error.hpp"
#include "xbranch/redact.hpp"

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

AtomicFile::AtomicFile(fs::path target, mode_t mode) : m_target(std::move(target)) {
    m_temp = m_target;
    m_temp += ".tmp-" + random_suffix();
    // O_EXCL: never follow or reuse something planted at the temp name.
    m_fd = ::open(m_temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (m_fd < 0) {
        throw io_error("cannot create", m_temp, errno);
    }
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

void AtomicFile::commit() {
    if (::fsync(m_fd) != 0) {
        throw io_error("cannot flush", m_temp, errno);
    }
    if (::close(m_fd) != 0) {
        m_fd = -1;
        throw io_error("cannot close", m_temp, errno);
    }
    m_fd = -1;
    if (::rename(m_temp.c_str(), m_target.c_str()) != 0) {
        throw io_error("cannot rename into", m_target, errno);
    }
    m_committed = true;
}

std::vector<OutputFile> output_files(const CreateResult& r) {
    const auto& c = r.connection;
    return {
        {"branch-name", r.branch.name, false},
        {"branch-id", r.branch.id, false},
        {"connection-string", build_connection_string(c), true},
        {"host", c.host, false},
        {"port", std::to_string(c.port), false},
        {"database", c.database, false},
        {"username", c.username, false},
        {"password", c.password, true},
    };
}

void preflight_output_dir(const fs::path& dir) {
    std::error_code ec;
    if (!fs::exists(dir, ec)) {
        const fs::path parent = dir.has_parent_path() ? dir.parent_path() : fs::path(".");
        if (!fs::is_directory(parent, ec)) {
            throw Error(ErrorKind::Io, "output folder " + dir.string() + " cannot be made: " +
                                           parent.string() + " does not exist")
                .with_hint("create it first, or pass another --output-dir");
        }
        if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
            throw io_error("cannot create output folder", dir, errno);
        }
    } else if (!fs::is_directory(dir, ec)) {
        throw Error(ErrorKind::Io, "output path " + dir.string() + " is not a folder");
    }
    // Prove we can create, write and remove a file there before any branch exists.
    AtomicFile probe(dir / ".xbranch-probe", 0600);
    probe.write("probe");
    // The destructor removes the temp file; nothing is renamed into place.
}

void write_output_files(const fs::path& dir, const std::vector<OutputFile>& files) {
    std::vector<AtomicFile> staged;
    staged.reserve(files.size());
    for (const auto& f : files) {
        staged.emplace_back(dir / f.name, f.secret ? 0600 : 0644);
        staged.back().write(f.value);
    }
    // Any failure above removes every temp file (destructors) and leaves the
    // folder as it was. Renames are all that is left.
    std::size_t renamed = 0;
    try {
        for (auto& s : staged) {
            s.commit();
            ++renamed;
        }
    } catch (const Error&) {
        // A rename failed midway: take back the files this call already put
        // in place, so no partial set is left behind.
        for (std::size_t i = 0; i < renamed; ++i) {
            ::unlink((dir / files[i].name).c_str());
        }
        throw;
    }
}

std::string render(const CreateResult& r, OutputFormat format, bool show_secrets) {
    const auto& c = r.connection;
    const std::string url = build_connection_string(c, !show_secrets);
    switch (format) {
        case OutputFormat::Json: {
            nlohmann::json j;
            j["branch"] = {{"name", r.branch.name},   {"id", r.branch.id},
                           {"parentID", r.parent_id}, {"region", r.branch.region},
                           {"adopted", r.adopted},    {"status", status_type_name(r.status.type)}};
            j["connection"] = {{"host", c.host},
                               {"port", c.port},
                               {"database", c.database},
                               {"username", c.username},
                               {"password", show_secrets ? c.password : std::string(k_mask)},
                               {"sslmode", c.sslmode},
                               {"connectionString", url}};
            return j.dump(2) + "\n";
        }
        case OutputFormat::Env: {
            auto quote = [](const std::string& v) {
                std::string out = "'";
                for (char ch : v) {
                    out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
                }
                return out + "'";
            };
            std::string out;
            out += "DATABASE_URL=" + quote(url) + "\n";
            out += "PGHOST=" + quote(c.host) + "\n";
            out += "PGPORT=" + quote(std::to_string(c.port)) + "\n";
            out += "PGDATABASE=" + quote(c.database) + "\n";
            out += "PGUSER=" + quote(c.username) + "\n";
            out += "PGPASSWORD=" + quote(show_secrets ? c.password : std::string(k_mask)) + "\n";
            if (!c.sslmode.empty()) {
                out += "PGSSLMODE=" + quote(c.sslmode) + "\n";
            }
            out += "XBRANCH_BRANCH_NAME=" + quote(r.branch.name) + "\n";
            out += "XBRANCH_BRANCH_ID=" + quote(r.branch.id) + "\n";
            return out;
        }
        case OutputFormat::Text:
        default: {
            std::string out;
            out += std::string(r.adopted ? "Adopted existing" : "Created") + " branch " +
                   r.branch.name + "\n";
            out += "  id          " + r.branch.id + "\n";
            out += "  parent      " + r.parent_id + "\n";
            out += "  status      " + std::string(status_type_name(r.status.type)) + "\n";
            out += "  host        " + c.host + ":" + std::to_string(c.port) + "\n";
            out += "  database    " + c.database + "\n";
            out += "  user        " + c.username + "\n";
            out += "  connection  " + url + "\n";
            if (!show_secrets) {
                out +=
                    "\nThe password is masked. `xbranch url` prints the full connection string.\n";
            }
            return out;
        }
    }
}

}  // namespace xbranch
