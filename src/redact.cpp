#include "xbranch/redact.hpp"

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include "xbranch/percent.hpp"

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
        // Only inside [start, end): searching the whole text made many
        // "://" in one long line quadratic.
        const std::string_view authority = std::string_view(text).substr(start, end - start);
        const std::size_t at_rel = authority.rfind('@');
        if (at_rel != std::string_view::npos) {
            const std::size_t at = start + at_rel;
            const std::size_t colon_rel = authority.substr(0, at_rel).find(':');
            if (colon_rel != std::string_view::npos) {
                const std::size_t colon = start + colon_rel;
                std::string masked(k_mask);
                text.replace(colon + 1, at - colon - 1, masked);
                end = colon + 1 + masked.size() + 1;
            }
        }
        pos = std::max(end, start);
    }
}

bool ieq(char a, char b) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return lower(a) == lower(b);
}

bool is_json_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// "password": "..." in JSON (the key in any case). One pass, linear in the
// input: a regex with backtracking was slow on long lines and needs no state.
void mask_json_passwords(std::string& text) {
    static constexpr std::string_view k_key = "\"password\"";
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        bool key = i + k_key.size() <= text.size();
        for (std::size_t k = 0; key && k < k_key.size(); ++k) {
            key = ieq(text[i + k], k_key[k]);
        }
        if (!key) {
            out += text[i++];
            continue;
        }
        std::size_t j = i + k_key.size();
        while (j < text.size() && is_json_space(text[j])) {
            ++j;
        }
        if (j >= text.size() || text[j] != ':') {
            out += text[i++];
            continue;
        }
        ++j;
        while (j < text.size() && is_json_space(text[j])) {
            ++j;
        }
        if (j >= text.size() || text[j] != '"') {
            out += text[i++];
            continue;
        }
        // The closing quote, skipping escapes. An unterminated value is not
        // a JSON string: keep the rest as it is (and stay linear).
        std::size_t end = j + 1;
        while (end < text.size() && text[end] != '"') {
            end += text[end] == '\\' ? std::size_t{2} : std::size_t{1};
        }
        if (end >= text.size()) {
            out.append(text, i, std::string::npos);
            break;
        }
        out.append(text, i, j + 1 - i);
        out += k_mask;
        out += '"';
        i = end + 1;
    }
    text = std::move(out);
}

}  // namespace

std::vector<std::string> secret_forms(std::string_view secret) {
    std::vector<std::string> out{std::string(secret)};
    auto add = [&out](std::string form) {
        if (std::find(out.begin(), out.end(), form) == out.end()) {
            out.push_back(std::move(form));
        }
    };
    const std::string encoded = percent_encode(secret);
    add(encoded);
    std::string quote;       // urllib.parse.quote: '/' stays
    std::string quote_plus;  // urllib.parse.quote_plus: a space is '+'
    for (std::size_t i = 0; i < encoded.size(); ++i) {
        const std::string_view three = std::string_view(encoded).substr(i, 3);
        if (three == "%2F") {
            quote += '/';
            quote_plus += three;
            i += 2;
        } else if (three == "%20") {
            quote += three;
            quote_plus += '+';
            i += 2;
        } else {
            quote += encoded[i];
            quote_plus += encoded[i];
        }
    }
    add(quote);
    add(quote_plus);
    std::string json;
    for (char c : secret) {
        switch (c) {
            case '"':
                json += "\\\"";
                break;
            case '\\':
                json += "\\\\";
                break;
            case '\n':
                json += "\\n";
                break;
            case '\r':
                json += "\\r";
                break;
            case '\t':
                json += "\\t";
                break;
            default:
                json += c;
        }
    }
    add(json);
    return out;
}

void register_secret(std::string_view secret) {
    if (secret.size() < 4) {
        return;  // too short to mask without mangling ordinary words
    }
    const std::vector<std::string> forms = secret_forms(secret);
    std::lock_guard lock(g_mutex);
    auto& s = secrets();
    for (const auto& form : forms) {
        if (std::find(s.begin(), s.end(), form) == s.end()) {
            s.push_back(form);
        }
    }
    // Longest first, so a secret containing another is masked whole.
    std::sort(s.begin(), s.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
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

std::size_t safe_cut(std::string_view text, std::size_t want) {
    const std::lock_guard<std::mutex> lock(g_mutex);
    want = std::min(want, text.size());
    // Moving the cut to the start of one secret may split another: repeat.
    for (bool moved = true; moved && want > 0;) {
        moved = false;
        for (const auto& secret : secrets()) {
            if (secret.size() < 2) {
                continue;
            }
            const std::size_t first = want >= secret.size() ? want - secret.size() + 1 : 0;
            for (std::size_t i = first; i < want; ++i) {
                const std::string_view here = text.substr(i, secret.size());
                const bool splits = here.size() == secret.size()
                                        ? here == secret
                                        : secret.compare(0, here.size(), here) == 0;
                if (splits) {
                    want = i;
                    moved = true;
                    break;
                }
            }
        }
    }
    return want;
}

std::string mask_url_password(std::string_view url) {
    std::string out(url);
    mask_url_passwords(out);
    return out;
}

}  // namespace xbranch
