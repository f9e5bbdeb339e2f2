#include "xbranch/outputs.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "xbranch/atomic_file.hpp"
#include "xbranch/error.hpp"
#include "xbranch/redact.hpp"

namespace xbranch {
namespace fs = std::filesystem;

namespace {

Error io_error(const std::string& what, const fs::path& path, int err) {
    return Error(ErrorKind::Io, what + " " + path.string() + ": " + std::strerror(err));
}

// mkdir -p with mode 0755, saying which part is in the way; each folder
// this call made goes into `made`.
void make_folders(const fs::path& dir, std::vector<fs::path>& made) {
    fs::path sofar;
    for (const auto& part : dir) {
        sofar /= part;
        if (part.empty() || part == "/") {
            continue;
        }
        struct stat st {};
        if (::stat(sofar.c_str(), &st) == 0) {
            if (!S_ISDIR(st.st_mode)) {
                throw Error(ErrorKind::Io,
                            sofar == dir ? "output path " + dir.string() + " is not a folder"
                                         : "output folder " + dir.string() + " cannot be made: " +
                                               sofar.string() + " is a file, not a folder");
            }
            continue;
        }
        if (errno != ENOENT) {
            throw io_error("cannot use output folder", sofar, errno);
        }
        if (::mkdir(sofar.c_str(), 0755) == 0) {
            made.push_back(sofar);
        } else if (errno != EEXIST) {
            throw io_error("cannot create output folder", sofar, errno);
        }
    }
}

// A previous file set aside while the new set goes in.
struct Backup {
    fs::path target;
    std::optional<fs::path> saved;  // nullopt: there was no file at target
};

Backup back_up(const fs::path& target) {
    Backup b{target, std::nullopt};
    struct stat st {};
    if (::lstat(target.c_str(), &st) != 0) {
        if (errno == ENOENT) {
            return b;
        }
        throw io_error("cannot check", target, errno);
    }
    if (S_ISDIR(st.st_mode)) {
        return b;  // the rename fails on it anyway; there is nothing to keep
    }
    // A hard link keeps the old file in place and costs no data blocks.
    const fs::path saved = sibling_name(target, "old");
    if (::link(target.c_str(), saved.c_str()) != 0) {
        throw io_error("cannot keep the previous", target, errno);
    }
    b.saved = saved;
    return b;
}

void restore(const Backup& b) {
    if (b.saved) {
        ::rename(b.saved->c_str(), b.target.c_str());
    } else {
        ::unlink(b.target.c_str());
    }
}

void drop(const Backup& b) {
    if (b.saved) {
        ::unlink(b.saved->c_str());
    }
}

}  // namespace

std::vector<OutputFile> output_files(const OutputValues& v) {
    const auto& c = v.connection;
    return {
        {"branch-name", v.branch_name, false},
        {"branch-id", v.branch_id, false},
        {"connection-string", build_connection_string(c), true},
        {"host", c.host, false},
        {"port", std::to_string(c.port), false},
        {"database", c.database, false},
        {"username", c.username, false},
        {"password", c.password, true},
        {"pooled-connection-string", build_connection_string(v.pooled), true},
    };
}

std::vector<std::string> output_file_names() {
    std::vector<std::string> out;
    for (const auto& f : output_files(OutputValues{})) {
        out.push_back(f.name);
    }
    return out;
}

MadeFolders::MadeFolders(MadeFolders&& other) noexcept : m_made(std::move(other.m_made)) {
    other.m_made.clear();
}

MadeFolders& MadeFolders::operator=(MadeFolders&& other) noexcept {
    if (this != &other) {
        remove();
        m_made = std::move(other.m_made);
        other.m_made.clear();
    }
    return *this;
}

MadeFolders::~MadeFolders() {
    remove();
}

void MadeFolders::remove() noexcept {
    for (auto it = m_made.rbegin(); it != m_made.rend(); ++it) {
        // rmdir refuses a folder with anything in it: what is there stays.
        if (::rmdir(it->c_str()) != 0) {
            break;
        }
    }
    m_made.clear();
}

MadeFolders preflight_output_dir(const fs::path& dir, const std::vector<std::string>& names) {
    if (dir.empty()) {
        // "" / name is just name: the working folder, which nobody asked for.
        throw Error(ErrorKind::Usage, "the output folder path is empty");
    }
    std::vector<fs::path> made_now;
    try {
        make_folders(dir, made_now);
    } catch (const Error&) {
        MadeFolders undo(std::move(made_now));
        throw;
    }
    MadeFolders made(std::move(made_now));  // a failure below removes them
    // Something at a target name that a rename cannot replace (a folder, a
    // socket) would fail after the branch exists: refuse it now.
    for (const auto& name : names) {
        const fs::path target = dir / name;
        struct stat st {};
        if (::lstat(target.c_str(), &st) != 0) {
            if (errno == ENOENT) {
                continue;
            }
            throw io_error("cannot check", target, errno);
        }
        if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
            throw Error(ErrorKind::Io, "cannot write " + target.string() +
                                           ": something other than a file is there")
                .with_hint("remove it, or pass another output folder");
        }
    }
    // Prove we can create, write and remove a file there before any branch exists.
    {
        AtomicFile probe(dir / ".xbranch-probe", 0600);
        probe.write("probe");
        // The destructor removes the temp file; nothing is renamed into place.
    }
    return made;
}

StagedOutputs::StagedOutputs(fs::path dir, std::vector<OutputFile> files)
    : m_dir(std::move(dir)), m_files(std::move(files)) {
    if (m_dir.empty()) {
        throw Error(ErrorKind::Usage, "the output folder path is empty");
    }
    m_staged.reserve(m_files.size());
    for (const auto& f : m_files) {
        m_staged.emplace_back(m_dir / f.name, f.secret ? 0600 : 0644);
        m_staged.back().write(f.value);
    }
    for (auto& s : m_staged) {
        s.flush();
    }
}

void StagedOutputs::commit() {
    const fs::path& dir = m_dir;
    // Any failure before this removed every temp file (destructors) and left
    // the folder as it was. Now keep the previous set, then rename.
    std::vector<Backup> backups;
    backups.reserve(m_staged.size());
    std::size_t renamed = 0;
    try {
        for (const auto& s : m_staged) {
            backups.push_back(back_up(s.target()));
        }
        for (auto& s : m_staged) {
            s.commit();
            ++renamed;
        }
        fsync_dir(dir);
    } catch (const Error&) {
        // Put back exactly the previous set: the old file where there was
        // one, nothing where there was none.
        for (std::size_t i = 0; i < backups.size(); ++i) {
            if (i < renamed) {
                restore(backups[i]);
            } else {
                drop(backups[i]);
            }
        }
        try {
            fsync_dir(dir);
        } catch (const Error&) {
            // The first error is the one to report.
        }
        throw;
    }
    bool kept_any = false;
    for (const auto& b : backups) {
        kept_any = kept_any || b.saved.has_value();
        drop(b);
    }
    if (!kept_any) {
        return;  // nothing was removed after the flush above
    }
    try {
        fsync_dir(dir);
    } catch (const Error&) {
        // The new set is in place and durable; only the removal of the kept
        // old links might not be.
    }
}

bool same_files(const std::vector<OutputFile>& a, const std::vector<OutputFile>& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](const OutputFile& x, const OutputFile& y) {
                          return x.name == y.name && x.value == y.value && x.secret == y.secret;
                      });
}

void write_output_files(const fs::path& dir, const std::vector<OutputFile>& files) {
    StagedOutputs staged(dir, files);
    staged.commit();
}

std::size_t remove_output_files(const fs::path& dir, const std::vector<std::string>& names) {
    if (dir.empty()) {
        throw Error(ErrorKind::Usage, "the output folder path is empty");
    }
    struct Moved {
        fs::path target;
        fs::path aside;
    };
    std::vector<Moved> moved;
    auto put_back = [&moved] {
        for (auto it = moved.rbegin(); it != moved.rend(); ++it) {
            ::rename(it->aside.c_str(), it->target.c_str());
        }
    };
    for (const auto& name : names) {
        const fs::path target = dir / name;
        struct stat st {};
        if (::lstat(target.c_str(), &st) != 0) {
            if (errno == ENOENT) {
                continue;
            }
            const int err = errno;
            put_back();
            throw io_error("cannot check", target, err);
        }
        if (S_ISDIR(st.st_mode)) {
            continue;  // not a file xbranch wrote
        }
        const fs::path aside = sibling_name(target, "gone");
        if (::rename(target.c_str(), aside.c_str()) != 0) {
            const int err = errno;
            put_back();
            throw io_error("cannot remove", target, err);
        }
        moved.push_back({target, aside});
    }
    for (const auto& m : moved) {
        ::unlink(m.aside.c_str());
    }
    if (!moved.empty()) {
        try {
            fsync_dir(dir);
        } catch (const Error&) {
            // The files are gone from the folder; only their durability is in doubt.
        }
    }
    return moved.size();
}

std::string render(const OutputValues& v, OutputFormat format, bool show_secrets) {
    const auto& c = v.connection;
    const std::string url = build_connection_string(c, !show_secrets);
    switch (format) {
        case OutputFormat::Json: {
            nlohmann::json j;
            j["branch"] = {{"name", v.branch_name},   {"id", v.branch_id},
                           {"parentID", v.parent_id}, {"region", v.region},
                           {"adopted", v.adopted},    {"status", v.status}};
            j["connection"] = {
                {"host", c.host},
                {"port", c.port},
                {"database", c.database},
                {"username", c.username},
                {"password", show_secrets ? c.password : std::string(k_mask)},
                {"sslmode", c.sslmode},
                {"connectionString", url},
                {"pooledConnectionString", build_connection_string(v.pooled, !show_secrets)}};
            if (v.replaced_id) {
                j["replacedId"] =
                    v.replaced_id->empty() ? nlohmann::json() : nlohmann::json(*v.replaced_id);
            }
            return j.dump(2) + "\n";
        }
        case OutputFormat::Env: {
            auto quote = [](const std::string& text) {
                std::string out = "'";
                for (char ch : text) {
                    out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
                }
                return out + "'";
            };
            // `export`: eval "$(xbranch create --output env ...)" must reach
            // child processes, not only the shell itself.
            std::string out;
            out += "export DATABASE_URL=" + quote(url) + "\n";
            out += "export PGHOST=" + quote(c.host) + "\n";
            out += "export PGPORT=" + quote(std::to_string(c.port)) + "\n";
            out += "export PGDATABASE=" + quote(c.database) + "\n";
            out += "export PGUSER=" + quote(c.username) + "\n";
            out += "export PGPASSWORD=" + quote(show_secrets ? c.password : std::string(k_mask)) +
                   "\n";
            if (!c.sslmode.empty()) {
                out += "export PGSSLMODE=" + quote(c.sslmode) + "\n";
            }
            out += "export XBRANCH_BRANCH_NAME=" + quote(v.branch_name) + "\n";
            out += "export XBRANCH_BRANCH_ID=" + quote(v.branch_id) + "\n";
            return out;
        }
        case OutputFormat::Text:
        default: {
            std::string out;
            out += std::string(v.adopted ? "Adopted existing" : "Created") + " branch " +
                   v.branch_name + "\n";
            out += "  id          " + v.branch_id + "\n";
            if (v.replaced_id) {
                out += v.replaced_id->empty()
                           ? std::string("  replaced    nothing (there was no branch)\n")
                           : "  replaced    " + *v.replaced_id + " -> " + v.branch_id + "\n";
            }
            out += "  parent      " + v.parent_id + "\n";
            out += "  status      " + v.status + "\n";
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
