// The API answer parsers on arbitrary bytes: they may only throw
// xbranch::Error(Protocol); parse_error_body, redact and the small parsers
// never throw.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "xbranch/error.hpp"
#include "xbranch/redact.hpp"
#include "xbranch/retry.hpp"
#include "xbranch/xata_types.hpp"

namespace {

template <typename F>
void expect_protocol_or_ok(F f) {
    try {
        f();
    } catch (const xbranch::Error& e) {
        if (e.kind() != xbranch::ErrorKind::Protocol) {
            std::abort();
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    expect_protocol_or_ok([&] {
        for (const auto& b : xbranch::parse_branch_list(in)) {
            if (b.id.empty() || b.name.empty()) {
                std::abort();
            }
        }
    });
    expect_protocol_or_ok([&] { (void)xbranch::parse_branch_short(in); });
    expect_protocol_or_ok([&] {
        const auto d = xbranch::parse_branch_details(in);
        if (d.status.instance_count < 0 || d.status.instance_ready_count < 0) {
            std::abort();
        }
    });
    expect_protocol_or_ok([&] {
        const auto c = xbranch::parse_credentials(in);
        if (c.username.empty() || c.password.empty() ||
            (c.port && (*c.port < 1 || *c.port > 65535))) {
            std::abort();
        }
    });
    const auto err = xbranch::parse_error_body(in);
    (void)err;
    (void)xbranch::parse_timestamp(in);
    (void)xbranch::parse_status_type(in);
    const std::string red = xbranch::redact(in);
    (void)red;
    return 0;
}
