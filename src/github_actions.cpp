#include "xbranch/github_actions.hpp"

#include <algorithm>
#include <random>
#include <set>

#include "xbranch/error.hpp"
#include "xbranch/redact.hpp"

namespace xbranch::github {

std::string escape_command_data(std::string_view data) {
    std::string out;
    out.reserve(data.size());
    for (char c : data) {
        if (c == '%') {
            out += "%25";
        } else if (c == '\r') {
            out += "%0D";
        } else if (c == '\n') {
            out += "%0A";
        } else {
            out += c;
        }
    }
    return out;
}

std::string mask_commands(const std::vector<std::string>& secrets) {
    // The runner's masker matches single lines: a multi-line secret is
    // registered line by line, or its lines would print in clear.
    std::set<std::string> seen;
    std::string out;
    for (const auto& secret : secrets) {
        std::size_t start = 0;
        while (start <= secret.size()) {
            std::size_t end = secret.find('\n', start);
            if (end == std::string::npos) {
                end = secret.size();
            }
            std::string line = secret.substr(start, end - start);
            if (!line.empty() && line.back() == '\r') {
                line.pop_back();
            }
            if (!line.empty() && seen.insert(line).second) {
                out += "::add-mask::" + escape_command_data(line) + "\n";
            }
            start = end + 1;
        }
    }
    return out;
}

std::vector<std::string> output_masks(const std::vector<OutputFile>& files) {
    std::vector<std::string> out;
    for (const auto& f : files) {
        if (!f.secret) {
            continue;
        }
        if (f.name == "password") {
            for (auto& form : secret_forms(f.value)) {
                out.push_back(std::move(form));
            }
        } else {
            out.push_back(f.value);
        }
    }
    return out;
}

std::string random_delimiter() {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string out = "ghadelimiter_";
    for (int i = 0; i < 32; ++i) {
        out += k_hex[rng() % 16];
    }
    return out;
}

std::string output_entry(std::string_view name, std::string_view value,
                         const std::function<std::string()>& make_delimiter) {
    const bool name_ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_';
    });
    if (!name_ok) {
        throw Error(ErrorKind::Internal, "invalid GitHub output name '" + std::string(name) + "'");
    }
    // A delimiter that occurs in the value could end it early (and let the
    // value smuggle in other outputs): draw until one does not.
    for (int attempt = 0; attempt < 16; ++attempt) {
        const std::string delim = make_delimiter();
        if (delim.empty() || value.find(delim) != std::string_view::npos ||
            delim.find_first_of("\r\n") != std::string::npos) {
            continue;
        }
        std::string out;
        out.reserve(name.size() + value.size() + 2 * delim.size() + 6);
        out.append(name).append("<<").append(delim).append("\n");
        out.append(value).append("\n");
        out.append(delim).append("\n");
        return out;
    }
    throw Error(ErrorKind::Internal,
                "no delimiter for GitHub output '" + std::string(name) + "' avoids its value");
}

}  // namespace xbranch::github
