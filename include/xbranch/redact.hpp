// Secrets never leave: every log line, error message and stdout text goes
// through redact(), which removes registered secrets and anything shaped like one.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace xbranch {

inline constexpr std::string_view k_mask = "********";

// Remember a secret value (API key, password) for the rest of the process,
// in every form of secret_forms().
void register_secret(std::string_view secret);

// The forms a secret takes in text: as is; percent-encoded as xbranch writes
// it in a URL (every reserved character, uppercase hex); as Python's
// urllib.parse.quote (keeps '/') and quote_plus (a space is '+') write it;
// escaped inside a JSON string. Distinct, the raw form first.
std::vector<std::string> secret_forms(std::string_view secret);
void clear_secrets();  // tests

// Masks registered secrets, Xata keys (xau_/xao_...), passwords in URLs
// (scheme://user:PASSWORD@host) and JSON "password" values.
std::string redact(std::string_view text);

// The largest n <= want at which text may be cut without splitting a
// registered secret: neither one across the cut nor one the text ends by
// beginning. For cutting overlong output lines that are redacted one by one.
std::size_t safe_cut(std::string_view text, std::size_t want);

// Masks the password of a postgresql:// URL, whatever it is.
std::string mask_url_password(std::string_view url);

}  // namespace xbranch
