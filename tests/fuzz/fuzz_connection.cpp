// postgresql:// URLs: parsing arbitrary text never crashes, and what
// build_connection_string writes parses back to the same user, password,
// database, port (and host, when it is a plain host name or IPv6 address).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "xbranch/connection.hpp"

namespace {

bool plain_host(const std::string& h) {
    if (h.empty()) {
        return false;
    }
    for (char c : h) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':')) {
            return false;
        }
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);

    // 1. Any text.
    if (auto u = xbranch::parse_postgres_url(in)) {
        if (u->host.empty() || (u->port && (*u->port < 1 || *u->port > 65535))) {
            std::abort();
        }
    }
    if (xbranch::percent_decode(xbranch::percent_encode(in)) != in) {
        std::abort();
    }

    // 2. Round trip: the first two bytes pick the port, the rest is
    //    user \0 password \0 host \0 database.
    if (size < 2) {
        return 0;
    }
    std::vector<std::string> parts(1);
    for (std::size_t i = 2; i < size; ++i) {
        const char c = static_cast<char>(data[i]);
        if (c == '\0' && parts.size() < 4) {
            parts.emplace_back();
        } else {
            parts.back() += c;
        }
    }
    parts.resize(4);
    xbranch::ConnectionInfo info;
    info.username = parts[0];
    info.password = parts[1];
    info.host = plain_host(parts[2]) ? parts[2] : "h.example";
    info.database = parts[3];
    info.port = 1 + (data[0] << 8 | data[1]) % 65535;
    info.sslmode = (data[0] & 1) != 0 ? "require" : "";
    const std::string url = xbranch::build_connection_string(info);
    const auto p = xbranch::parse_postgres_url(url);
    if (!p) {
        // A host of only colons and hex is bracketed; anything else must parse.
        std::abort();
    }
    if (p->username != info.username || p->password != info.password ||
        p->database != info.database || p->port != info.port || p->host != info.host) {
        std::abort();
    }
    const auto masked = xbranch::parse_postgres_url(xbranch::build_connection_string(info, true));
    if (!masked || masked->username != info.username) {
        std::abort();
    }
    return 0;
}
