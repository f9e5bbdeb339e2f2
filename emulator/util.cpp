#include "util.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

namespace emu {

std::string rfc3339(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    const auto us = duration_cast<microseconds>(t.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
    const long frac = static_cast<long>(us % 1'000'000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    return buf;
}

std::string base32hex_id(Rng& rng, std::size_t n, bool first_letter) {
    static constexpr char k_alphabet[] = "0123456789abcdefghijklmnopqrstuv";
    std::string out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        if (i == 0 && first_letter) {
            out.push_back(k_alphabet[10 + rng.below(22)]);
        } else {
            out.push_back(k_alphabet[rng.below(32)]);
        }
    }
    return out;
}

std::string percent_encode(const std::string& s) {
    static constexpr char k_hex[] = "0123456789ABCDEF";
    std::string out;
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                                c == '~';
        if (unreserved) {
            out.push_back(ch);
        } else {
            out.push_back('%');
            out.push_back(k_hex[c >> 4]);
            out.push_back(k_hex[c & 15]);
        }
    }
    return out;
}

std::string make_password(Rng& rng, bool special) {
    static constexpr char k_alnum[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    static constexpr char k_special[] = "@:/?#%&+ '\"";
    std::string out;
    for (int i = 0; i < 24; ++i) {
        out.push_back(k_alnum[rng.below(sizeof k_alnum - 1)]);
    }
    if (special) {
        // Every special character once, at random places (never first, so
        // the password does not start with a space).
        for (std::size_t i = 0; i < sizeof k_special - 1; ++i) {
            const auto pos = 1 + rng.below(out.size() - 1);
            out.insert(out.begin() + static_cast<std::ptrdiff_t>(pos), k_special[i]);
        }
    }
    return out;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

}  // namespace emu
