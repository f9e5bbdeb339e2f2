#include "xbranch/config.hpp"

#include <curl/curl.h>

#include <charconv>
#include <cstdlib>
#include <memory>
#include <new>

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
    if (url.substr(0, 8) != "https://") {
        if (url.substr(0, 7) != "http://") {
            problem = "it must start with https:// (or http:// for a local emulator)";
            return std::nullopt;
        }
        out.https = false;
    }
    // libcurl's own parser: the URL is taken apart as libcurl will send it.
    const std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> parsed(curl_url(), &curl_url_cleanup);
    if (!parsed) {
        throw std::bad_alloc();
    }
    const std::string text(url);
    switch (curl_url_set(parsed.get(), CURLUPART_URL, text.c_str(), 0)) {
        case CURLUE_OK:
            break;
        case CURLUE_NO_HOST:
            problem = "it has no host";
            return std::nullopt;
        case CURLUE_BAD_PORT_NUMBER:
            problem = "the port must be a number from 1 to 65535";
            return std::nullopt;
        case CURLUE_BAD_IPV6:
            problem = "it has no valid IPv6 address between '[' and ']'";
            return std::nullopt;
        case CURLUE_BAD_LOGIN:
        case CURLUE_BAD_USER:
        case CURLUE_BAD_PASSWORD:
            problem = "user names or passwords in the URL are not supported";
            return std::nullopt;
        default:
            problem = "it is not a valid URL";
            return std::nullopt;
    }
    const auto part = [&parsed](CURLUPart which) -> std::optional<std::string> {
        char* value = nullptr;
        if (curl_url_get(parsed.get(), which, &value, 0) != CURLUE_OK || value == nullptr) {
            return std::nullopt;
        }
        std::string copy(value);
        curl_free(value);
        return copy;
    };
    if (part(CURLUPART_USER) || part(CURLUPART_PASSWORD)) {
        problem = "user names or passwords in the URL are not supported";
        return std::nullopt;
    }
    std::string host = part(CURLUPART_HOST).value_or("");
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    if (host.empty()) {
        problem = "it has no host";
        return std::nullopt;
    }
    // An empty port ("host:") is allowed by libcurl; xbranch wants a number.
    const std::string_view after_scheme = url.substr(out.https ? 8 : 7);
    const std::string_view authority = after_scheme.substr(0, after_scheme.find_first_of("/?#"));
    if (const auto port = part(CURLUPART_PORT)) {
        int number = 0;
        auto [ptr, ec] = std::from_chars(port->data(), port->data() + port->size(), number);
        if (ec != std::errc{} || ptr != port->data() + port->size() || number < 1 ||
            number > 65535) {
            problem = "the port must be a number from 1 to 65535";
            return std::nullopt;
        }
        out.port = number;
    } else if (!authority.empty() && authority.back() == ':') {
        problem = "the port must be a number from 1 to 65535";
        return std::nullopt;
    }
    out.host = host;
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
