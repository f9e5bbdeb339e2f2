#include "branch_json.hpp"

#include "util.hpp"

namespace emu {

using nlohmann::json;

namespace {

constexpr const char* k_region = "us-east-1";
constexpr const char* k_image = "postgres:15";
constexpr const char* k_instance_type = "xata.micro";

json status_json(const Branch& b, const StatusView& s) {
    json instances = json::array();
    for (int i = 0; i < s.instance_count; ++i) {
        const bool ready = i < s.ready_count;
        const char* state = "starting";
        if (ready) {
            state = "healthy";
        } else if (s.status_type == "STATUS_TYPE_FAULT") {
            state = "failed";
        }
        instances.push_back({{"id", b.id + "-" + std::to_string(i + 1)},
                             {"status", state},
                             {"primary", i == 0 && ready},
                             {"targetPrimary", i == 0}});
    }
    return {{"status", s.phase},
            {"statusType", s.status_type},
            {"instanceCount", s.instance_count},
            {"instanceReadyCount", s.ready_count},
            {"instances", instances}};
}

}  // namespace

json branch_json(const Branch& b, BranchShape shape, const StatusView& status,
                 const json& connection_string) {
    const json parent = b.parent_id ? json(*b.parent_id) : json(nullptr);
    if (shape == BranchShape::Admin) {
        return {{"id", b.id},
                {"name", b.name},
                {"parentID", parent},
                {"database", b.database},
                {"role", b.role},
                {"state", b.deleted_at ? "DELETED" : status.status_type},
                {"behavior", behavior_name(b.behavior)},
                {"dbState", b.db_state},
                {"dbError", b.db_error},
                {"description", b.description ? json(*b.description) : json(nullptr)},
                {"publicAccess", b.public_access},
                {"passwordLagMs", b.password_lag_ms},
                {"passwordLive", b.password_live},
                {"createdAt", rfc3339(b.created_at)},
                {"deletedAt", b.deleted_at ? json(rfc3339(*b.deleted_at)) : json(nullptr)}};
    }
    json j = {{"id", b.id},
              {"name", b.name},
              {"createdAt", rfc3339(b.created_at)},
              {"updatedAt", rfc3339(b.updated_at)},
              {"parentID", parent},
              {"region", k_region},
              {"publicAccess", b.public_access}};
    if (shape == BranchShape::Listed) {
        // The real list call selects no description.
        j["backupsEnabled"] = false;
        return j;
    }
    j["connectionString"] = connection_string;
    if (b.description) {
        j["description"] = *b.description;
    }
    if (shape == BranchShape::Described) {
        j["status"] = status_json(b, status);
        j["backupsEnabled"] = false;
        j["scaleToZero"] = {{"enabled", b.scale_to_zero},
                            {"inactivityPeriodMinutes", b.inactivity_minutes}};
        j["configuration"] = {{"image", k_image},
                              {"region", k_region},
                              {"instanceType", k_instance_type},
                              {"replicas", 0}};
    }
    return j;
}

std::string dump_json(const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace emu
