// Turning credentials into a connection: host, port, database, user,
// password, and the postgresql:// URL a client can use.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "xbranch/percent.hpp"

namespace xbranch {

// Xata's endpoint types: rw (primary), r (primary or replica), ro (replicas
// only), pooled_rw (PgBouncer; "pooler" accepted as another name).
enum class Endpoint { ReadWrite, Read, ReadOnly, Pooler };

std::optional<Endpoint> parse_endpoint(std::string_view text);  // rw | r | ro | pooled_rw
const char* endpoint_name(Endpoint e);

struct ConnectionInfo {
    std::string host;
    int port = 5432;
    std::string database;
    std::string username;
    std::string password;
    std::string sslmode = "require";  // empty: no sslmode parameter
};

// The parts of a postgresql:// URL (user and password percent-decoded).
struct ParsedUrl {
    std::string username;
    std::string password;
    std::string host;
    std::optional<int> port;
    std::string database;
};
std::optional<ParsedUrl> parse_postgres_url(std::string_view url);

// "abc.region.xata.tech" + Pooler -> "abc-pooler.region.xata.tech"; a
// suffix already there (-rw, -ro, -r, -pooler) is replaced.
std::string apply_endpoint(std::string_view host, Endpoint endpoint);

// postgresql://USER:PASS@HOST:PORT/DB?sslmode=MODE, user and password
// percent-encoded; with mask_password the password is k_mask.
std::string build_connection_string(const ConnectionInfo& info, bool mask_password = false);

}  // namespace xbranch
