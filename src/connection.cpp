#include "xbranch/connection.hpp"

#include <algorithm>
#include <charconv>

#include "xbranch/redact.hpp"

namespace xbranch {

std::optional<Endpoint> parse_endpoint(std::string_view text) {
    if (text == "rw" || text.empty()) {
        return Endpoint::ReadWrite;
    }
    if (text == "r") {
        return Endpoint::Read;
    }
    if (text == "ro") {
        return Endpoint::ReadOnly;
    }
    if (text == "pooled_rw" || text == "pooler") {
        return Endpoint::Pooler;
    }
    return std::nullopt;
}

const char* endpoint_name(Endpoint e) {
    switch (e) {
        case Endpoint::ReadWrite:
            return "rw";
        case Endpoint::Read:
            return "r";
        case Endpoint::ReadOnly:
            return "ro";
        case Endpoint::Pooler:
            return "pooled_rw";
    }
    return "rw";
}

std::optional<ParsedUrl> parse_postgres_url(std::string_view url) {
    std::string_view rest;
    for (std::string_view scheme : {"postgresql://", "postgres://"}) {
        if (url.substr(0, scheme.size()) == scheme) {
            rest = url.substr(scheme.size());
            break;
        }
    }
    if (rest.empty()) {
        return std::nullopt;
    }
    ParsedUrl out;
    std::size_t path_start = rest.find_first_of("/?");
    std::string_view authority = rest.substr(0, path_start);
    std::string_view tail =
        path_start == std::string_view::npos ? std::string_view{} : rest.substr(path_start);
    std::size_t at = authority.rfind('@');
    if (at != std::string_view::npos) {
        std::string_view userinfo = authority.substr(0, at);
        authority = authority.substr(at + 1);
        std::size_t colon = userinfo.find(':');
        out.username = percent_decode(userinfo.substr(0, colon));
        if (colon != std::string_view::npos) {
            out.password = percent_decode(userinfo.substr(colon + 1));
        }
    }
    std::string_view host = authority;
    std::size_t bracket = authority.rfind(']');
    std::size_t colon = authority.rfind(':');
    if (!authority.empty() && authority[0] == '[' && bracket != std::string_view::npos) {
        host = authority.substr(1, bracket - 1);
        colon = authority.find(':', bracket);
    }
    if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
        if (authority[0] != '[') {
            host = authority.substr(0, colon);
        }
        std::string_view port_text = authority.substr(colon + 1);
        int port = 0;
        auto [ptr, ec] =
            std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || port <= 0 ||
            port > 65535) {
            return std::nullopt;
        }
        out.port = port;
    }
    if (host.empty()) {
        return std::nullopt;
    }
    out.host = std::string(host);
    if (!tail.empty() && tail[0] == '/') {
        std::string_view db = tail.substr(1);
        db = db.substr(0, db.find('?'));
        out.database = percent_decode(db);
    }
    return out;
}

std::string apply_endpoint(std::string_view host, Endpoint endpoint) {
    // A host that already names an endpoint (abc-rw.region...) gets its
    // suffix replaced, not a second one appended.
    const std::size_t first_dot = std::min(host.find('.'), host.size());
    const std::string_view label = host.substr(0, first_dot);
    std::string base(label);
    for (std::string_view known : {"-rw", "-ro", "-r", "-pooler"}) {
        if (label.size() > known.size() && label.substr(label.size() - known.size()) == known) {
            base = std::string(label.substr(0, label.size() - known.size()));
            break;
        }
    }
    const std::string rest(host.substr(first_dot));
    std::string suffix;
    switch (endpoint) {
        case Endpoint::ReadWrite:
            // rw may be written with no suffix; keep the host as given unless
            // it named another endpoint.
            return base == label ? std::string(host) : base + "-rw" + rest;
        case Endpoint::Read:
            suffix = "-r";
            break;
        case Endpoint::ReadOnly:
            suffix = "-ro";
            break;
        case Endpoint::Pooler:
            suffix = "-pooler";
            break;
    }
    return base + suffix + rest;
}

std::string build_connection_string(const ConnectionInfo& info, bool mask_password) {
    std::string out = "postgresql://" + percent_encode(info.username);
    if (!info.password.empty()) {
        out += ':';
        out += mask_password ? std::string(k_mask) : percent_encode(info.password);
    }
    out += '@';
    out += info.host.find(':') != std::string::npos ? "[" + info.host + "]" : info.host;
    out += ':' + std::to_string(info.port);
    out += '/' + percent_encode(info.database);
    if (!info.sslmode.empty()) {
        out += "?sslmode=" + percent_encode(info.sslmode);
    }
    return out;
}

}  // namespace xbranch
