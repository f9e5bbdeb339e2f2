#include "xbranch/xata_types.hpp"

#include <chrono>
#include <nlohmann/json.hpp>

#include "xbranch/error.hpp"

namespace xbranch {
namespace {

using nlohmann::json;

// Thrown by the parser callback to stop at the first value nested too deeply
// (before it is built, so a hostile answer costs no memory or stack).
struct TooDeep {};

json parse_limited(std::string_view body) {
    const json::parser_callback_t limit = [](int depth, json::parse_event_t, json&) {
        if (depth > k_max_json_depth) {
            throw TooDeep{};
        }
        return true;
    };
    try {
        return json::parse(body.begin(), body.end(), limit, /*allow_exceptions=*/false);
    } catch (const TooDeep&) {
        throw Error(ErrorKind::Protocol, "the answer's JSON is nested more than " +
                                             std::to_string(k_max_json_depth) + " levels deep")
            .with_reason(ErrorReason::ResponseTooLarge);
    }
}

json parse_object(std::string_view body, const char* what) {
    json j = parse_limited(body);
    if (j.is_discarded()) {
        throw Error(ErrorKind::Protocol, std::string("the ") + what + " answer is not valid JSON");
    }
    if (!j.is_object()) {
        throw Error(ErrorKind::Protocol,
                    std::string("the ") + what + " answer is not a JSON object");
    }
    return j;
}

std::string required_string(const json& j, const char* key, const char* what) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
        throw Error(ErrorKind::Protocol,
                    std::string("the ") + what + " answer has no '" + key + "' string");
    }
    return it->get<std::string>();
}

std::string optional_string(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

std::optional<std::string> nullable_string(const json& j, const char* key) {
    auto it = j.find(key);
    if (it != j.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) {
        return it->get<std::string>();
    }
    return std::nullopt;
}

int optional_int(const json& j, const char* key) {
    auto it = j.find(key);
    if (it != j.end() && it->is_number_integer()) {
        auto v = it->get<long long>();
        if (v >= 0 && v <= 1000000) {
            return static_cast<int>(v);
        }
    }
    return 0;
}

Branch branch_from(const json& j, const char* what) {
    Branch b;
    b.id = required_string(j, "id", what);
    b.name = required_string(j, "name", what);
    b.parent_id = nullable_string(j, "parentID");
    b.region = optional_string(j, "region");
    b.created_at = optional_string(j, "createdAt");
    b.description = optional_string(j, "description");
    return b;
}

}  // namespace

StatusType parse_status_type(std::string_view text) {
    if (text == "STATUS_TYPE_HEALTHY") {
        return StatusType::Healthy;
    }
    if (text == "STATUS_TYPE_TRANSIENT") {
        return StatusType::Transient;
    }
    if (text == "STATUS_TYPE_FAULT") {
        return StatusType::Fault;
    }
    if (text == "STATUS_TYPE_HIBERNATED") {
        return StatusType::Hibernated;
    }
    if (text == "STATUS_TYPE_UNSPECIFIED" || text.empty()) {
        return StatusType::Unspecified;
    }
    return StatusType::Unknown;
}

const char* status_type_name(StatusType s) {
    switch (s) {
        case StatusType::Healthy:
            return "HEALTHY";
        case StatusType::Transient:
            return "TRANSIENT";
        case StatusType::Fault:
            return "FAULT";
        case StatusType::Hibernated:
            return "HIBERNATED";
        case StatusType::Unspecified:
            return "UNSPECIFIED";
        case StatusType::Unknown:
            return "UNKNOWN";
    }
    return "UNKNOWN";
}

std::vector<Branch> parse_branch_list(std::string_view body) {
    json j = parse_object(body, "list branches");
    auto it = j.find("branches");
    if (it == j.end() || !it->is_array()) {
        throw Error(ErrorKind::Protocol, "the list branches answer has no 'branches' array");
    }
    std::vector<Branch> out;
    out.reserve(it->size());
    for (const auto& item : *it) {
        if (!item.is_object()) {
            throw Error(ErrorKind::Protocol, "the list branches answer holds a non-object item");
        }
        out.push_back(branch_from(item, "list branches"));
    }
    return out;
}

Branch parse_branch_short(std::string_view body) {
    return branch_from(parse_object(body, "create branch"), "create branch");
}

BranchDetails parse_branch_details(std::string_view body) {
    json j = parse_object(body, "describe branch");
    BranchDetails d;
    d.branch = branch_from(j, "describe branch");
    auto st = j.find("status");
    if (st == j.end() || !st->is_object()) {
        throw Error(ErrorKind::Protocol, "the describe branch answer has no 'status' object");
    }
    d.status.type = parse_status_type(required_string(*st, "statusType", "describe branch status"));
    d.status.phase = optional_string(*st, "status");
    d.status.instance_count = optional_int(*st, "instanceCount");
    d.status.instance_ready_count = optional_int(*st, "instanceReadyCount");
    d.connection_string = nullable_string(j, "connectionString");
    d.description = nullable_string(j, "description").value_or("");
    if (auto pa = j.find("publicAccess"); pa != j.end() && pa->is_boolean()) {
        d.public_access = pa->get<bool>();
    }
    return d;
}

Credentials parse_credentials(std::string_view body) {
    json j = parse_object(body, "credentials");
    Credentials c;
    c.username = required_string(j, "username", "credentials");
    c.password = required_string(j, "password", "credentials");
    c.host = nullable_string(j, "hostname");
    if (!c.host) {
        c.host = nullable_string(j, "host");
    }
    auto port = j.find("port");
    if (port != j.end()) {
        if (port->is_number_integer()) {
            auto p = port->get<long long>();
            if (p > 0 && p <= 65535) {
                c.port = static_cast<int>(p);
            }
        } else if (port->is_string()) {
            try {
                auto p = std::stoi(port->get<std::string>());
                if (p > 0 && p <= 65535) {
                    c.port = p;
                }
            } catch (const std::exception&) {
            }
        }
    }
    c.database = nullable_string(j, "dbname");
    if (!c.database) {
        c.database = nullable_string(j, "database");
    }
    c.connection_string = nullable_string(j, "connectionString");
    return c;
}

ProjectLimits parse_project_limits(std::string_view body) {
    json j = parse_object(body, "project limits");
    // Some answers nest the values in a "limits" object; read whichever is there.
    const json* src = &j;
    if (auto it = j.find("limits"); it != j.end() && it->is_object()) {
        src = &*it;
    }
    auto field = [src](const char* key) -> std::optional<long long> {
        auto it = src->find(key);
        if (it == src->end() || it->is_null()) {
            return std::nullopt;
        }
        if (!it->is_number_integer() || it->get<long long>() < 0) {
            throw Error(ErrorKind::Protocol, std::string("the project limits answer has a '") +
                                                 key + "' that is not a non-negative integer");
        }
        return it->get<long long>();
    };
    ProjectLimits out;
    out.max_branches_per_project = field("maxBranchesPerProject");
    out.max_branches_per_hour = field("maxBranchesPerHour");
    return out;
}

std::string status_text(const BranchStatus& s, bool with_instances) {
    std::string out = status_type_name(s.type);
    if (!s.phase.empty()) {
        out += " (" + s.phase + ")";
    }
    if (with_instances) {
        out += ", instances " + std::to_string(s.instance_ready_count) + "/" +
               std::to_string(s.instance_count);
    }
    return out;
}

ApiErrorBody parse_error_body(std::string_view body) {
    ApiErrorBody out;
    json j;
    try {
        j = parse_limited(body);
    } catch (const Error&) {
        j = json(json::value_t::discarded);
    }
    if (!j.is_discarded() && j.is_object()) {
        out.id = optional_string(j, "id");
        out.message = optional_string(j, "message");
        if (out.message.empty()) {
            out.message = optional_string(j, "error");
        }
        return out;
    }
    // Plain text or an HTML page from a proxy: keep a short, single-line excerpt.
    std::string text;
    bool in_tag = false;
    for (char c : body) {
        if (c == '<') {
            in_tag = true;
        } else if (c == '>') {
            in_tag = false;
            text += ' ';
        } else if (!in_tag) {
            text += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
        }
    }
    std::string squeezed;
    for (char c : text) {
        if (c == ' ' && (squeezed.empty() || squeezed.back() == ' ')) {
            continue;
        }
        if (static_cast<unsigned char>(c) < 0x20) {
            continue;
        }
        squeezed += c;
    }
    while (!squeezed.empty() && squeezed.back() == ' ') {
        squeezed.pop_back();
    }
    if (squeezed.size() > 200) {
        squeezed.resize(200);
        squeezed += "...";
    }
    out.message = squeezed;
    return out;
}

std::string make_create_body(std::string_view name, std::string_view parent_id,
                             std::string_view description) {
    json j = {{"name", name}, {"mode", "inherit"}, {"parentID", parent_id}};
    if (!description.empty()) {
        j["description"] = description;
    }
    return j.dump();
}

std::string make_wake_body() {
    return json{{"hibernate", false}}.dump();
}

}  // namespace xbranch

namespace xbranch {

std::optional<long long> parse_timestamp(std::string_view text) {
    int y = 0;
    int mo = 0;
    int d = 0;
    int h = 0;
    int mi = 0;
    int s = 0;
    int consumed = 0;
    const std::string t(text);
    if (std::sscanf(t.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &consumed) !=
        6) {
        return std::nullopt;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 ||
        s > 60 || y < 1970) {
        return std::nullopt;
    }
    std::size_t i = static_cast<std::size_t>(consumed);
    if (i < t.size() && t[i] == '.') {
        ++i;
        while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
            ++i;
        }
    }
    long long offset = 0;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) {
        int oh = 0;
        int om = 0;
        if (std::sscanf(t.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2) {
            return std::nullopt;
        }
        offset = (t[i] == '+' ? 1 : -1) * (oh * 3600LL + om * 60LL);
    } else if (i >= t.size() || (t[i] != 'Z' && t[i] != 'z')) {
        return std::nullopt;
    }
    // The calendar decides which days exist: 2025-02-31 and 2023-02-29 do not.
    const std::chrono::year_month_day date{std::chrono::year{y},
                                           std::chrono::month{static_cast<unsigned>(mo)},
                                           std::chrono::day{static_cast<unsigned>(d)}};
    if (!date.ok()) {
        return std::nullopt;
    }
    const long long days = std::chrono::sys_days{date}.time_since_epoch().count();
    return days * 86400 + h * 3600LL + mi * 60LL + s - offset;
}

}  // namespace xbranch
