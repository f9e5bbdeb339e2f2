#include "xbranch/hooks.hpp"

#include <cstdint>

#include "xbranch/tag.hpp"

namespace xbranch {

EnvVars hook_environment(const ConnectionInfo& info, std::string_view branch_name,
                         std::string_view branch_id, std::string_view parent) {
    ConnectionInfo url_info = info;
    if (url_info.sslmode == "none") {
        url_info.sslmode.clear();  // the URL then has no sslmode parameter either
    }
    EnvVars env = {
        {"DATABASE_URL", build_connection_string(url_info)},
        {"PGHOST", info.host},
        {"PGPORT", std::to_string(info.port)},
        {"PGDATABASE", info.database},
        {"PGUSER", info.username},
        {"PGPASSWORD", info.password},
    };
    if (!url_info.sslmode.empty()) {
        env.emplace_back("PGSSLMODE", url_info.sslmode);
    }
    env.emplace_back("XBRANCH_BRANCH_NAME", std::string(branch_name));
    env.emplace_back("XBRANCH_BRANCH_ID", std::string(branch_id));
    env.emplace_back("XBRANCH_PARENT", std::string(parent));
    return env;
}

std::string content_hash(std::string_view content) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (const char c : content) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ULL;
    }
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string out(16, '0');
    for (int i = 15; i >= 0; --i) {
        out[static_cast<std::size_t>(i)] = k_hex[h & 0xFU];
        h >>= 4U;
    }
    return out;
}

std::vector<std::string> fingerprint_input(const std::vector<HookSpec>& specs) {
    std::vector<std::string> out;
    out.reserve(specs.size());
    for (const auto& s : specs) {
        if (s.kind == HookSpec::Kind::Sql) {
            out.push_back("sql " + s.value + " " + content_hash(s.content));
        } else {
            out.push_back("exec " + s.value);
        }
    }
    return out;
}

std::string hook_set_fingerprint(const std::vector<HookSpec>& specs) {
    if (specs.empty()) {
        return {};
    }
    return hooks_fingerprint(fingerprint_input(specs));
}

}  // namespace xbranch
