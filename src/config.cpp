#include "xbranch/config.hpp"

#include <charconv>
#include <cstdlib>

namespace xbranch {

std::optional<std::string> ProcessEnvironment::get(const std::string& name) const {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr || *v == '\0') {
        return std::nullopt;
    }
    return std::string(v);
}

std::optional<std::string> MapEnvironment::get(const std::string& name) const {
    auto it = m_values.find(name);
    if (it == m_values.end() || it->second.empty()) {
        return std::nullopt;
    }
    return it->second;
}

namespace {

bool is_loopback_host(std::string_view host) {
    if (host == "localhost" || host == "::1") {
        return true;
    }
    if (host.size() > 10 && host.substr(host.size() - 10) == ".localhost") {
        return true;
    }
    // 127.0.0.0/8 written as a dotted quad.
    if (host.substr(0, 4) != "127.") {
        return false;
    }
    int parts = 0;
    std::size_t i = 0;
    while (i <= host.size()) {
        const std::size_t dot = std::min(host.find('.', i), host.size());
        const std::string_view part = host.substr(i, dot - i);
        int n = -1;
        auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), n);
        if (part.empty() || ec != std::errc{} || ptr != part.data() + part.size() || n > 255) {
            return false;
        }
        ++parts;
        i = dot + 1;
    }
    return parts == 4;
}

}  // namespace

std::optional<BaseUrl> check_base_url(std::string_view url, std::string& problem) {
    for (char c : url) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f) {
            problem = "it contains a space or a control character";
            return std::nullopt;
        }
    }
    BaseUrl out;
    std::string_view rest;
    if (url.substr(0, 8) == "https://") {
        rest = url.substr(8);
    } else if (url.substr(0, 7) == "http://") {
        out.https = false;
        rest = url.substr(7);
    } else {
        problem = "it must start with https:// (or http:// for a local emulator)";
        return std::nullopt;
    }
    const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
    if (authority.find('@') != std::string_view::npos) {
        problem = "user names or passwords in the URL are not supported";
        return std::nullopt;
    }
    std::string_view host = authority;
    std::string_view port_text;
    bool has_port = false;
    if (!authority.empty() && authority[0] == '[') {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) {
            problem = "an IPv6 address needs a closing ']'";
            return std::nullopt;
        }
        host = authority.substr(1, close - 1);
        const std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after[0] != ':') {
                problem = "unexpected text after the IPv6 address";
                return std::nullopt;
            }
            has_port = true;
            port_text = after.substr(1);
        }
    } else if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        has_port = true;
        port_text = authority.substr(colon + 1);
    }
    if (host.empty()) {
        problem = "it has no host";
        return std::nullopt;
    }
    if (has_port) {
        int port = 0;
        auto [ptr, ec] =
            std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (port_text.empty() || ec != std::errc{} || ptr != port_text.data() + port_text.size() ||
            port < 1 || port > 65535) {
            problem = "the port must be a number from 1 to 65535";
            return std::nullopt;
        }
        out.port = port;
    }
    out.host = std::string(host);
    out.loopback = is_loopback_host(out.host);
    return out;
}

std::string trim_space(std::string_view value) {
    auto space = [](char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
    };
    std::size_t b = 0;
    std::size_t e = value.size();
    while (b < e && space(value[b])) {
        ++b;
    }
    while (e > b && space(value[e - 1])) {
        --e;
    }
    return std::string(value.substr(b, e - b));
}

bool check_path_segment(std::string_view id, std::string& problem) {
    if (id.empty()) {
        problem = "it is empty";
        return false;
    }
    if (id == "." || id == "..") {
        problem = "'.' and '..' are not ids: in a URL path they name another level";
        return false;
    }
    if (id.find_first_of("/\\?#%") != std::string_view::npos) {
        problem = "an id is one URL path step, without / \\ ? # or %";
        return false;
    }
    return true;
}

}  // namespace xbranch
