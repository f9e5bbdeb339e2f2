#include "xbranch/tag.hpp"

#include <charconv>
#include <chrono>

#include "xbranch/error.hpp"
#include "xbranch/naming.hpp"

namespace xbranch {
namespace {

bool is_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_lower_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool all_lower_alnum(std::string_view s) {
    for (char c : s) {
        if (!is_lower_alnum(c)) {
            return false;
        }
    }
    return true;
}

bool all_digits(std::string_view s) {
    for (char c : s) {
        if (c < '0' || c > '9') {
            return false;
        }
    }
    return !s.empty();
}

int to_int(std::string_view digits) {
    int v = 0;
    std::from_chars(digits.data(), digits.data() + digits.size(), v);
    return v;
}

constexpr std::int64_t k_min_expiry = 0;               // 1970-01-01
constexpr std::int64_t k_max_expiry = 253402300740LL;  // 9999-12-31 23:59

// Unix seconds -> "YYYYMMDDHHMM" (UTC), through the C++20 calendar.
std::string format_expiry(std::int64_t unix_seconds) {
    using namespace std::chrono;
    const sys_seconds t{seconds{unix_seconds}};
    const sys_days day = floor<days>(t);
    const year_month_day ymd{day};
    const auto minutes_of_day = static_cast<unsigned>(duration_cast<minutes>(t - day).count());
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d%02u%02u%02u%02u", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  (minutes_of_day / 60) % 100, minutes_of_day % 60);
    return buf;
}

// "YYYYMMDDHHMM" -> Unix seconds; nullopt for anything that is not a real
// calendar minute (2025-02-31 is refused).
std::optional<std::int64_t> parse_expiry(std::string_view text) {
    if (text.size() != 12 || !all_digits(text)) {
        return std::nullopt;
    }
    using namespace std::chrono;
    const year_month_day ymd{year{to_int(text.substr(0, 4))},
                             month{static_cast<unsigned>(to_int(text.substr(4, 2)))},
                             day{static_cast<unsigned>(to_int(text.substr(6, 2)))}};
    const int hh = to_int(text.substr(8, 2));
    const int mm = to_int(text.substr(10, 2));
    if (!ymd.ok() || hh > 23 || mm > 59) {
        return std::nullopt;
    }
    const auto t = sys_days{ymd} + hours{hh} + minutes{mm};
    const std::int64_t unix_seconds = duration_cast<seconds>(t.time_since_epoch()).count();
    if (unix_seconds < k_min_expiry || unix_seconds > k_max_expiry) {
        return std::nullopt;  // before 1970: encode_tag could not write it back
    }
    return unix_seconds;
}

// The free text, cut to legal characters and to `room`; a leading character
// that is not alphanumeric is dropped (the note never starts the description,
// but keep it tidy), trailing spaces removed.
std::string fit_note(std::string_view note, std::size_t room) {
    std::string out;
    for (char c : note) {
        if (out.size() >= room) {
            break;
        }
        if (is_alnum(c) || c == '-' || c == ' ') {
            if (out.empty() && !is_alnum(c)) {
                continue;
            }
            out += c;
        }
    }
    while (!out.empty() && out.back() == ' ') {
        out.pop_back();
    }
    return out;
}

}  // namespace

bool valid_description(std::string_view text) {
    if (text.empty()) {
        return true;
    }
    if (text.size() > k_max_description || !is_alnum(text.front())) {
        return false;
    }
    for (char c : text) {
        if (!is_alnum(c) && c != '-' && c != ' ') {
            return false;
        }
    }
    return true;
}

bool has_xbranch_marker(std::string_view description) {
    const auto word = description.substr(0, description.find(' '));
    return word.size() >= 3 && word.substr(0, 2) == "xb" && all_digits(word.substr(2));
}

std::string encode_tag(const BranchTag& tag) {
    if (tag.token.size() != k_token_length || !all_lower_alnum(tag.token)) {
        throw Error(ErrorKind::Internal, "tag: a run token is 10 characters of [a-z0-9]");
    }
    std::string out = std::string(k_tag_marker_v1) + " r" + tag.token;
    if (tag.expires_at) {
        if (*tag.expires_at < k_min_expiry || *tag.expires_at > k_max_expiry) {
            throw Error(ErrorKind::Internal, "tag: expiry out of range");
        }
        out += " e" + format_expiry(round_up_to_minute(*tag.expires_at));
    }
    if (tag.hooks != HookState::None) {
        if (tag.hooks_fingerprint.size() != k_fingerprint_length ||
            !all_lower_alnum(tag.hooks_fingerprint)) {
            throw Error(ErrorKind::Internal, "tag: a hook fingerprint is 4 characters of [a-z0-9]");
        }
        out +=
            std::string(" h") + (tag.hooks == HookState::Done ? "d" : "p") + tag.hooks_fingerprint;
    }
    // The note follows a lone "-", so that no note can be read back as a field.
    if (out.size() + 3 < k_max_description) {
        const std::string note = fit_note(tag.note, k_max_description - out.size() - 3);
        if (!note.empty()) {
            out += " - " + note;
        }
    }
    return out;
}

std::optional<BranchTag> decode_tag(std::string_view description) {
    if (!valid_description(description)) {
        return std::nullopt;
    }
    // Split into words, each with where it starts; the fields come first, in
    // order, then the note.
    std::vector<std::string_view> words;
    std::vector<std::size_t> starts;
    std::size_t pos = 0;
    while (pos <= description.size()) {
        const auto next = description.find(' ', pos);
        const auto end = next == std::string_view::npos ? description.size() : next;
        words.push_back(description.substr(pos, end - pos));
        starts.push_back(pos);
        if (next == std::string_view::npos) {
            break;
        }
        pos = next + 1;
    }
    if (words.size() < 2 || words[0] != k_tag_marker_v1) {
        return std::nullopt;
    }
    BranchTag tag;
    const auto token = words[1];
    if (token.size() != k_token_length + 1 || token[0] != 'r' ||
        !all_lower_alnum(token.substr(1))) {
        return std::nullopt;
    }
    tag.token = std::string(token.substr(1));
    std::size_t i = 2;
    if (i < words.size() && words[i].size() == 13 && words[i][0] == 'e') {
        auto when = parse_expiry(words[i].substr(1));
        if (!when) {
            return std::nullopt;  // shaped like an expiry but not a real one: damaged
        }
        tag.expires_at = *when;
        ++i;
    }
    if (i < words.size() && words[i].size() == 2 + k_fingerprint_length && words[i][0] == 'h' &&
        (words[i][1] == 'p' || words[i][1] == 'd') && all_lower_alnum(words[i].substr(2))) {
        tag.hooks = words[i][1] == 'd' ? HookState::Done : HookState::Pending;
        tag.hooks_fingerprint = std::string(words[i].substr(2));
        ++i;
    }
    if (i < words.size()) {
        if (words[i] != "-") {
            return std::nullopt;  // an unknown field: not a tag this build can read
        }
        // The note is the rest of the text, read back the way encode_tag
        // writes it (runs of spaces kept, the ends trimmed), so that decoding
        // what encode_tag wrote gives the same tag.
        if (i + 1 < words.size()) {
            tag.note = fit_note(description.substr(starts[i + 1]), k_max_description);
        }
    }
    return tag;
}

std::string make_run_token(std::uint64_t random_bits) {
    static constexpr char k_alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    std::string out(k_token_length, '0');
    for (auto& c : out) {
        c = k_alphabet[random_bits % 36];
        random_bits /= 36;
    }
    return out;
}

std::string hooks_fingerprint(const std::vector<std::string>& hook_specs) {
    std::string joined;
    for (const auto& s : hook_specs) {
        joined += std::to_string(s.size()) + ":" + s + ";";  // length-prefixed: no ambiguity
    }
    return short_hash(joined).substr(0, k_fingerprint_length);
}

ResetCarryOver carry_over_for_reset(std::string_view old_description) {
    ResetCarryOver out;
    if (const auto tag = decode_tag(old_description)) {
        out.expires_at = tag->expires_at;
        out.note = tag->note;
    } else if (!has_xbranch_marker(old_description) && valid_description(old_description)) {
        out.note = std::string(old_description);
    }
    return out;
}

std::int64_t round_up_to_minute(std::int64_t unix_seconds) {
    const std::int64_t r = unix_seconds % 60;
    return r == 0 ? unix_seconds : unix_seconds + (60 - r);
}

}  // namespace xbranch
