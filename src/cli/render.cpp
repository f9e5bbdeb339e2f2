#include "render.hpp"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app.hpp"
#include "xbranch/redact.hpp"

namespace xbranch::cli {
namespace {

nlohmann::json or_null(const std::optional<std::string>& value) {
    return value ? nlohmann::json(*value) : nlohmann::json();
}

}  // namespace

void print_list(const std::vector<ListRow>& rows, bool json, const std::string& empty_note) {
    if (json) {
        nlohmann::json items = nlohmann::json::array();
        for (const auto& r : rows) {
            items.push_back({{"name", r.name},
                             {"id", r.id},
                             {"parentID", or_null(r.parent_id)},
                             {"status", r.status},
                             {"createdAt", r.created_at},
                             {"ageSeconds", r.age_seconds},
                             {"expiresAt", or_null(r.expires_at)}});
        }
        std::cout << nlohmann::json{{"branches", items}}.dump(2) << "\n";
        return;
    }
    std::printf("%-40s %-26s %-26s %-11s %-6s %s\n", "NAME", "ID", "PARENT", "STATUS", "AGE",
                "EXPIRES");
    for (const auto& r : rows) {
        std::printf("%-40s %-26s %-26s %-11s %-6s %s\n", r.name.c_str(), r.id.c_str(),
                    r.parent_id ? r.parent_id->c_str() : "-", r.status.c_str(),
                    r.age_seconds >= 0 ? format_age(r.age_seconds).c_str() : "?",
                    r.expires_at ? r.expires_at->c_str() : "-");
    }
    if (rows.empty()) {
        std::printf("(no branches%s)\n", empty_note.c_str());
    }
}

void print_status(const StatusRow& row, bool json) {
    const BranchDetails& d = row.details;
    if (json) {
        nlohmann::json j = {{"name", d.branch.name},
                            {"id", d.branch.id},
                            {"parentID", or_null(d.branch.parent_id)},
                            {"region", d.branch.region},
                            {"status", status_type_name(d.status.type)},
                            {"phase", d.status.phase},
                            {"instances", d.status.instance_count},
                            {"readyInstances", d.status.instance_ready_count},
                            {"createdAt", d.branch.created_at},
                            {"ageSeconds", row.age_seconds}};
        j["expiresAt"] = row.expires_at.empty() ? nlohmann::json() : nlohmann::json(row.expires_at);
        std::cout << j.dump(2) << "\n";
        return;
    }
    std::cout << "branch     " << d.branch.name << "\n"
              << "id         " << d.branch.id << "\n"
              << "parent     " << d.branch.parent_id.value_or("(none)") << "\n"
              << "status     " << status_type_name(d.status.type)
              << (d.status.phase.empty() ? "" : " (" + d.status.phase + ")") << "\n"
              << "instances  " << d.status.instance_ready_count << "/" << d.status.instance_count
              << " ready\n"
              << "region     " << d.branch.region << "\n"
              << "age        " << (row.age_seconds >= 0 ? format_age(row.age_seconds) : "unknown")
              << "\n"
              << "expires    " << (row.expires_at.empty() ? "never" : row.expires_at) << "\n";
}

void print_gc(const GcReport& r, bool dry_run, bool json) {
    if (json) {
        std::cout << gc_report_json(r, dry_run).dump(2) << "\n";
        return;
    }
    if (!r.rows.empty()) {
        std::printf("%-44s %-6s %-21s %-11s %s\n", "NAME", "AGE", "EXPIRES", "REASON", "RESULT");
    }
    for (const auto& row : r.rows) {
        const GcCandidate& c = row.candidate;
        const std::string result =
            row.action + (row.detail.empty() ? "" : " (" + redact(row.detail) + ")");
        std::printf("%-44s %-6s %-21s %-11s %s\n", c.branch.name.c_str(),
                    c.age ? format_age(*c.age).c_str() : "?", expiry_text(c).c_str(),
                    c.reason ? gc_reason_name(*c.reason) : "-", result.c_str());
    }
    std::cout << (dry_run ? "would delete " : "deleted ") << r.deleted << ", kept " << r.kept
              << (r.failed ? ", failed " + std::to_string(r.failed) : "")
              << (r.interrupted ? ", interrupted" : "") << "\n";
}

}  // namespace xbranch::cli
