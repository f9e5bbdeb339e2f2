#include "xbranch/naming.hpp"

#include <cstdint>

#include "xbranch/error.hpp"

namespace xbranch {
namespace {

bool is_lower_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

}  // namespace

std::string sanitize_label(std::string_view raw) {
    std::string out;
    out.reserve(raw.size());
    bool pending_dash = false;
    for (char c : raw) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
        if (is_lower_alnum(c)) {
            if (pending_dash && !out.empty()) {
                out += '-';
            }
            pending_dash = false;
            out += c;
        } else {
            pending_dash = true;  // '-', '_', '.', spaces, UTF-8 bytes...: one dash
        }
    }
    return out;
}

std::string short_hash(std::string_view data) {
    std::uint64_t h = 14695981039346656037ULL;
    for (char c : data) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ULL;
    }
    static constexpr char k_alphabet[] = "0123456789abcdefghijklmnopqrstuv";
    std::string out(8, '0');
    for (auto& ch : out) {
        ch = k_alphabet[h & 31U];
        h >>= 5;
    }
    return out;
}

bool valid_prefix(std::string_view prefix) {
    // The closing '-' keeps the prefix a whole word of the name: "a" would
    // also select "analytics", "main" every "main-..." made by hand.
    if (prefix.size() < 2 || prefix.size() > k_max_prefix ||
        !(prefix[0] >= 'a' && prefix[0] <= 'z') || prefix.back() != '-') {
        return false;
    }
    for (char c : prefix) {
        if (!is_lower_alnum(c) && c != '-') {
            return false;
        }
    }
    return true;
}

bool valid_branch_name(std::string_view name) {
    if (name.empty() || name.size() > k_max_branch_name) {
        return false;
    }
    auto alnum = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    };
    if (!alnum(name[0])) {
        return false;
    }
    for (char c : name) {
        if (!alnum(c) && c != '-' && c != '_' && c != '.') {
            return false;
        }
    }
    return true;
}

bool looks_like_branch_id(std::string_view text) {
    if (text.size() != 26 || !(text[0] >= 'a' && text[0] <= 'v')) {
        return false;
    }
    for (char c : text) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'v'))) {
            return false;
        }
    }
    return true;
}

std::string derive_branch_name(const SandboxIdentity& id, std::string_view prefix) {
    if (!valid_prefix(prefix)) {
        throw Error(ErrorKind::Usage,
                    "invalid prefix " + quote_input(prefix) +
                        ": use 2-20 characters a-z, 0-9 and '-', starting with a letter "
                        "and ending with '-' (e.g. sb-)");
    }
    std::string readable = sanitize_label(id.sandbox);
    if (readable.empty()) {
        throw Error(ErrorKind::Usage,
                    id.sandbox.empty()
                        ? std::string("no sandbox name to derive a branch name from")
                        : "sandbox name " + quote_input(id.sandbox) +
                              " has no letters or digits to build a branch name from");
    }
    for (const std::string* part : {&id.resource, &id.sandbox_id}) {
        std::string label = sanitize_label(*part);
        if (!label.empty()) {
            readable += '-' + label;
        }
    }
    // The hash covers the exact inputs, so names that sanitize or truncate
    // alike still differ, and a reused sandbox name with a new id differs too.
    const std::string hash =
        short_hash("xbranch/v1\n" + id.sandbox + '\n' + id.sandbox_id + '\n' + id.resource);
    const std::size_t room = k_max_branch_name - prefix.size() - 1 - hash.size();
    if (readable.size() > room) {
        readable.resize(room);
        while (!readable.empty() && readable.back() == '-') {
            readable.pop_back();
        }
    }
    return std::string(prefix) + readable + '-' + hash;
}

}  // namespace xbranch
