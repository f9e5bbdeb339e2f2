#include "xbranch/error.hpp"

#include "xbranch/redact.hpp"

namespace xbranch {

const std::vector<ErrorKindInfo>& error_kinds() {
    // In exit-code order: the order --help and the README list them in.
    static const std::vector<ErrorKindInfo> k_kinds = {
        {ErrorKind::Internal, 1, "internal error"},
        {ErrorKind::Usage, 2, "usage error"},
        {ErrorKind::Auth, 3, "authentication failed"},
        {ErrorKind::NotFound, 4, "not found"},
        {ErrorKind::Conflict, 5, "conflict"},
        {ErrorKind::Timeout, 6, "timed out"},
        {ErrorKind::Fault, 7, "branch fault"},
        {ErrorKind::Unavailable, 8, "API unavailable"},
        {ErrorKind::Io, 9, "I/O error"},
        {ErrorKind::Protocol, 10, "unexpected API answer"},
        {ErrorKind::NotConnectable, 11, "not connectable"},
        {ErrorKind::QuotaExceeded, 12, "branch quota reached"},
        {ErrorKind::HookFailed, 13, "hook failed"},
        {ErrorKind::Interrupted, 128 + 2, "interrupted"},
    };
    return k_kinds;
}

const ErrorKindInfo& error_kind_info(ErrorKind kind) {
    for (const auto& k : error_kinds()) {
        if (k.kind == kind) {
            return k;
        }
    }
    return error_kinds().front();  // not reached: every kind has a row (a unit test says so)
}

int exit_code(ErrorKind kind, int signal_number) {
    if (kind == ErrorKind::Interrupted) {
        return 128 + (signal_number > 0 ? signal_number : 2);
    }
    return error_kind_info(kind).exit_code;
}

const char* kind_name(ErrorKind kind) {
    return error_kind_info(kind).name;
}

namespace {

// Shows every byte that could rewrite a terminal or forge a log line.
void escape_into(std::string& out, std::string_view text, bool quote) {
    constexpr const char* k_hex = "0123456789abcdef";
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\\' || (quote && c == '\'')) {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c >= 0x7f) {
            out += "\\x";
            out += k_hex[c >> 4];
            out += k_hex[c & 0xf];
        } else {
            out += static_cast<char>(c);
        }
    }
}

}  // namespace

std::string quote_input(std::string_view text) {
    // Input from the environment may hold ESC sequences or line breaks that
    // would rewrite the terminal or forge log lines: show every such byte.
    constexpr std::size_t k_max = 64;
    std::string out = "'";
    escape_into(out, text.substr(0, k_max), true);
    out += "'";
    if (text.size() > k_max) {
        out += "...";
    }
    return out;
}

std::string escape_input(std::string_view text) {
    std::string out;
    escape_into(out, text, false);
    return out;
}

namespace {

// The length of the valid UTF-8 sequence of 2-4 bytes at text[i], or 0.
std::size_t utf8_length(std::string_view text, std::size_t i) {
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char lead = byte(i);
    std::size_t n = 0;
    unsigned char lo = 0x80;  // the second byte's range (overlongs, surrogates, > U+10FFFF)
    unsigned char hi = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
        n = 2;
    } else if (lead >= 0xe0 && lead <= 0xef) {
        n = 3;
        lo = lead == 0xe0 ? 0xa0 : 0x80;
        hi = lead == 0xed ? 0x9f : 0xbf;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
        n = 4;
        lo = lead == 0xf0 ? 0x90 : 0x80;
        hi = lead == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (i + n > text.size() || byte(i + 1) < lo || byte(i + 1) > hi) {
        return 0;
    }
    for (std::size_t k = 2; k < n; ++k) {
        if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) {
            return 0;
        }
    }
    return n;
}

}  // namespace

std::string printable(std::string_view text) {
    constexpr const char* k_hex = "0123456789abcdef";
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
                out += "\\x";
                out += k_hex[c >> 4];
                out += k_hex[c & 0xf];
            } else {
                out += static_cast<char>(c);
            }
            ++i;
            continue;
        }
        const std::size_t n = utf8_length(text, i);
        if (n == 0) {
            out += "\\x";
            out += k_hex[c >> 4];
            out += k_hex[c & 0xf];
            ++i;
        } else if (c == 0xc2 && static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
            const auto second = static_cast<unsigned char>(text[i + 1]);
            out += "\\u00";
            out += k_hex[second >> 4];
            out += k_hex[second & 0xf];
            i += 2;
        } else {
            out.append(text.substr(i, n));
            i += n;
        }
    }
    return out;
}

Error& Error::add_hint(const std::string& more) {
    std::size_t b = 0;
    while (b < more.size() && (more[b] == ' ' || more[b] == '.')) {
        ++b;
    }
    if (b == more.size()) {
        return *this;
    }
    std::string base = m_hint;
    while (!base.empty() && (base.back() == ' ' || base.back() == '.')) {
        base.pop_back();
    }
    m_hint = base.empty() ? more.substr(b) : base + ". " + more.substr(b);
    return *this;
}

std::string Error::describe() const {
    std::string out;
    if (!m_operation.empty()) {
        out += m_operation + ": ";
    }
    if (m_http_status) {
        out += "HTTP " + std::to_string(*m_http_status);
        if (!m_request_id.empty()) {
            out += " (request id " + m_request_id + ")";
        }
        out += ": ";
    }
    out += what();
    return redact(out);
}

}  // namespace xbranch
