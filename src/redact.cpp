#include "xbranch/redact.hpp"

#include <algorithm>
#include <mutex>
#include <regex>
#include <vector>

namespace xbranch {
namespace {

std::mutex g_mutex;

std::vector<std::string>& secrets() {
    static std::vector<std::string> s;
    return s;
}

void replace_all(std::string& text, const std::string& needle) {
    if (needle.empty()) {
        return;
    }
    std::size_t pos = 0;
    while ((pos = text.find(needle, pos)) != std::string::npos) {
        text.replace(pos, needle.size(), k_mask);
        pos += k_mask.size();
    }
}

bool is_key_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

// xau_... / xao_... API keys, whoever's.
void mask_api_keys(std::string& text) {
    for (const char* marker : {"xau_", "xao_"}) {
        std::size_t pos = 0;
        while ((pos = text.find(marker, pos)) != std::string::npos) {
            if (pos > 0 && is_key_char(text[pos - 1])) {
                pos += 4;
                continue;
            }
            std::size_t end = pos + 4;
            while (end < text.size() && is_key_char(text[end])) {
                ++end;
            }
            if (end - pos > 8) {
                text.replace(pos, end - pos, k_mask);
                pos += k_mask.size();
            } else {
                pos = end;
            }
        }
    }
}

// scheme://user:SECRET@host
void mask_url_passwords(std::string& text) {
    std::size_t pos = 0;
    while ((pos = text.find("://", pos)) != std::string::npos) {
        std::size_t start = pos + 3;
        std::size_t end = start;
        while (end < text.size() && text[end] != '/' && text[end] != ' ' && text[end] != '"' &&
               text[end] != '\'' && text[end] != '\n' && text[end] != '?') {
            ++end;
        }
        std::size_t at = text.rfind('@', end);
        if (at != std::string::npos && at >= start && at < end) {
            std::size_t colon = text.find(':', start);
            if (colon != std::string::npos && colon < at) {
                std::string masked(k_mask);
                text.replace(colon + 1, at - colon - 1, masked);
                end = colon + 1 + masked.size() + 1;
            }
        }
        pos = std::max(end, start);
    }
}

// "password": "..." in JSON
void mask_json_passwords(std::string& text) {
    static const std::regex re(R"re(("password"\s*:\s*")((?:[^"\\]|\\.)*)("))re",
                               std::regex::icase);
    text = std::regex_replace(text, re, "$1********$3");
}

}  // namespace

void register_secret(std::string_view secret) {
    if (secret.size() < 4) {
        return;  // too short to mask without mangling ordinary words
    }
    std::lock_guard lock(g_mutex);
    auto& s = secrets();
    if (std::find(s.begin(), s.end(), secret) == s.end()) {
        s.emplace_back(secret);
        // Longest first, so a secret containing another is masked whole.
        std::sort(s.begin(), s.end(),
                  [](const auto& a, const auto& b) { return a.size() > b.size(); });
    }
}

void clear_secrets() {
    std::lock_guard lock(g_mutex);
    secrets().clear();
}

std::string redact(std::string_view text) {
    std::string out(text);
    {
        std::lock_guard lock(g_mutex);
        for (const auto& secret : secrets()) {
            replace_all(out, secret);
        }
    }
    mask_api_keys(out);
    mask_url_passwords(out);
    if (out.find("assword") != std::string::npos) {
        mask_json_passwords(out);
    }
    return out;
}

std::string mask_url_password(std::string_view url) {
    std::string out(url);
    mask_url_passwords(out);
    return out;
}

}  // namespace xbranch
