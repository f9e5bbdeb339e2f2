// Starting psql on a branch (`xbranch shell`): the command line and the
// environment, with the password only in the child's environment (never in
// argv, which every user on the machine can read in /proc/PID/cmdline).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xbranch/connection.hpp"
#include "xbranch/process.hpp"

namespace xbranch {

// Pure: "host='H' port='5432' dbname='D' user='U' sslmode='require'", each
// value single-quoted with \ and ' backslash-escaped (libpq's conninfo
// syntax); never the password. An empty sslmode is left out.
std::string build_conninfo(const ConnectionInfo& info);

struct ClientCommand {
    std::vector<std::string> argv;
    EnvVars env;  // set on top of the parent's environment
};

// Pure: `PSQL --dbname=CONNINFO EXTRA...` and PGPASSWORD=password in the
// environment (it also overrides a PGPASSWORD the user had set, which
// would otherwise win over the branch's own password).
ClientCommand psql_command(const std::string& psql, const ConnectionInfo& info,
                           const std::vector<std::string>& extra_args);

// The executable `name` as a shell would find it in `path` (a PATH value:
// directories separated by ':', an empty one meaning the current
// directory); a name with a '/' is taken as it is. nullopt when none is an
// executable regular file.
std::optional<std::string> find_executable(std::string_view name, std::string_view path);

}  // namespace xbranch
