// What list, status and gc show: one row struct per command, rendered as a
// text table or JSON here, in one place.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "xbranch/gc_run.hpp"
#include "xbranch/xata_types.hpp"

namespace xbranch::cli {

struct ListRow {
    std::string name;
    std::string id;
    std::optional<std::string> parent_id;
    std::string status;                     // "-" not asked, "?" unreadable
    std::string created_at;                 // as the API gave it
    long long age_seconds = -1;             // -1: unreadable createdAt
    std::optional<std::string> expires_at;  // RFC 3339, from the tag
};
// `empty_note`: the text in "(no branches...)" when there are no rows.
void print_list(const std::vector<ListRow>& rows, bool json, const std::string& empty_note);

struct StatusRow {
    BranchDetails details;
    long long age_seconds = -1;
    std::string expires_at;  // empty: never
};
void print_status(const StatusRow& row, bool json);

void print_gc(const GcReport& report, bool dry_run, bool json);

}  // namespace xbranch::cli
