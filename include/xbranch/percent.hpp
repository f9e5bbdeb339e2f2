// Percent-encoding (RFC 3986) for the URLs xbranch builds: HTTP path segments
// of the Xata API and the userinfo and database of postgresql:// URLs.
#pragma once

#include <string>
#include <string_view>

namespace xbranch {

// Every byte but the unreserved A-Z a-z 0-9 - . _ ~ as %XX (upper-case hex):
// safe as one path segment and as a URL's user, password or database.
std::string percent_encode(std::string_view text);

// %XX (either case) decoded; anything else, a lone or malformed % included, kept as is.
std::string percent_decode(std::string_view text);

}  // namespace xbranch
