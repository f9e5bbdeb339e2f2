// Secrets never leave: every log line, error message and stdout text goes
// through redact(), which removes registered secrets and anything shaped like one.
#pragma once

#include <string>
#include <string_view>

namespace xbranch {

inline constexpr std::string_view k_mask = "********";

// Remember a secret value (API key, password) for the rest of the process.
void register_secret(std::string_view secret);
void clear_secrets();  // tests

// Masks registered secrets, Xata keys (xau_/xao_...), passwords in URLs
// (scheme://user:PASSWORD@host) and JSON "password" values.
std::string redact(std::string_view text);

// Masks the password of a postgresql:// URL, whatever it is.
std::string mask_url_password(std::string_view url);

}  // namespace xbranch
