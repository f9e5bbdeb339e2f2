#include "xbranch/psql.hpp"

#include <sys/stat.h>
#include <unistd.h>

namespace xbranch {
namespace {

void append_value(std::string& out, std::string_view key, std::string_view value) {
    if (!out.empty()) {
        out += ' ';
    }
    out += key;
    out += "='";
    for (const char c : value) {
        if (c == '\\' || c == '\'') {
            out += '\\';
        }
        out += c;
    }
    out += '\'';
}

bool is_executable_file(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

std::string build_conninfo(const ConnectionInfo& info) {
    std::string out;
    append_value(out, "host", info.host);
    append_value(out, "port", std::to_string(info.port));
    append_value(out, "dbname", info.database);
    append_value(out, "user", info.username);
    if (!info.sslmode.empty()) {
        append_value(out, "sslmode", info.sslmode);
    }
    return out;
}

ClientCommand psql_command(const std::string& psql, const ConnectionInfo& info,
                           const std::vector<std::string>& extra_args) {
    ClientCommand cmd;
    cmd.argv.push_back(psql);
    cmd.argv.push_back("--dbname=" + build_conninfo(info));
    cmd.argv.insert(cmd.argv.end(), extra_args.begin(), extra_args.end());
    cmd.env.emplace_back("PGPASSWORD", info.password);
    return cmd;
}

std::optional<std::string> find_executable(std::string_view name, std::string_view path) {
    if (name.empty()) {
        return std::nullopt;
    }
    if (name.find('/') != std::string_view::npos) {
        std::string direct(name);
        return is_executable_file(direct) ? std::optional<std::string>(direct) : std::nullopt;
    }
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t end = path.find(':', start);
        if (end == std::string_view::npos) {
            end = path.size();
        }
        std::string dir(path.substr(start, end - start));
        std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + std::string(name);
        if (is_executable_file(candidate)) {
            return candidate;
        }
        start = end + 1;
    }
    return std::nullopt;
}

}  // namespace xbranch
