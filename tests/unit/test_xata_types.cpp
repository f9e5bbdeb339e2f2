#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fakes.hpp"
#include "xbranch/error.hpp"
#include "xbranch/xata_types.hpp"

using namespace xbranch;
using namespace xbranch::test;

namespace {

template <typename F>
ErrorKind thrown_kind(F f) {
    try {
        f();
    } catch (const Error& e) {
        return e.kind();
    } catch (const std::exception& e) {
        ADD_FAILURE() << "a non-xbranch exception escaped: " << e.what();
        return ErrorKind::Internal;
    }
    return ErrorKind::Internal;
}

#define EXPECT_PROTOCOL(expr) \
    EXPECT_EQ(thrown_kind([&] { (void)(expr); }), ErrorKind::Protocol) << #expr

using fake_project::k_id;
using fake_project::k_parent;

}  // namespace

TEST(ParseBranchList, ListMetadataShape) {
    const auto list =
        parse_branch_list(list_json({branch_json(k_parent, "main", ""),
                                     branch_json(k_id, "sb-feat-abc", k_parent, "eu-west-1")}));
    ASSERT_EQ(list.size(), 2U);
    EXPECT_EQ(list[0].id, k_parent);
    EXPECT_EQ(list[0].name, "main");
    EXPECT_FALSE(list[0].parent_id.has_value());
    EXPECT_EQ(list[1].id, k_id);
    EXPECT_EQ(list[1].name, "sb-feat-abc");
    ASSERT_TRUE(list[1].parent_id.has_value());
    EXPECT_EQ(*list[1].parent_id, k_parent);
    EXPECT_EQ(list[1].region, "eu-west-1");
    EXPECT_EQ(list[1].created_at, "2025-05-01T10:20:30Z");
}

TEST(ParseBranchList, EmptyAndExtraFields) {
    EXPECT_TRUE(parse_branch_list(R"({"branches":[]})").empty());
    const auto l =
        parse_branch_list(R"({"branches":[{"id":"x1","name":"n","future":{"a":1}}],"next":null})");
    ASSERT_EQ(l.size(), 1U);
    EXPECT_EQ(l[0].region, "");
    EXPECT_FALSE(l[0].parent_id.has_value());
}

TEST(ParseBranchList, BadBodiesAreProtocol) {
    EXPECT_PROTOCOL(parse_branch_list(""));
    EXPECT_PROTOCOL(parse_branch_list("not json"));
    EXPECT_PROTOCOL(parse_branch_list("<html><body>502 Bad Gateway</body></html>"));
    EXPECT_PROTOCOL(parse_branch_list("[]"));
    EXPECT_PROTOCOL(parse_branch_list("{}"));
    EXPECT_PROTOCOL(parse_branch_list(R"({"branches":{}})"));
    EXPECT_PROTOCOL(parse_branch_list(R"({"branches":null})"));
    EXPECT_PROTOCOL(parse_branch_list(R"({"branches":[1]})"));
    EXPECT_PROTOCOL(parse_branch_list(R"({"branches":[{"name":"no-id"}]})"));
    EXPECT_PROTOCOL(parse_branch_list(R"({"branches":[{"id":"x"}]})"));
    EXPECT_PROTOCOL(parse_branch_list(R"({"branches":[{"id":7,"name":"n"}]})"));
    EXPECT_PROTOCOL(parse_branch_list(R"({"branches":[{"id":"","name":"n"}]})"));
    EXPECT_PROTOCOL(parse_branch_list(R"({"branches":[{"id":"a","name":"n"}])"));  // truncated
}

TEST(ParseBranchShort, CreateAnswer) {
    // BranchShortMetadata: connectionString may be null on create.
    const std::string body =
        R"({"id":")" + k_id + R"(","name":"sb-x","parentID":")" + k_parent +
        R"(","createdAt":"2025-05-01T10:20:30Z","updatedAt":"2025-05-01T10:20:30Z",)"
        R"("connectionString":null,"region":"us-east-1","publicAccess":false,"description":""})";
    const Branch b = parse_branch_short(body);
    EXPECT_EQ(b.id, k_id);
    EXPECT_EQ(b.name, "sb-x");
    EXPECT_EQ(b.parent_id.value_or(""), k_parent);
    EXPECT_EQ(b.region, "us-east-1");
}

TEST(ParseBranchShort, NullParentAndErrors) {
    const Branch b = parse_branch_short(R"({"id":"x1","name":"root","parentID":null})");
    EXPECT_FALSE(b.parent_id.has_value());
    EXPECT_PROTOCOL(parse_branch_short(R"({"name":"no id"})"));
    EXPECT_PROTOCOL(parse_branch_short(R"({"id":null,"name":"n"})"));
    EXPECT_PROTOCOL(parse_branch_short(R"({"id":"x","name":["n"]})"));
    EXPECT_PROTOCOL(parse_branch_short("\"just a string\""));
    EXPECT_PROTOCOL(parse_branch_short("null"));
    EXPECT_PROTOCOL(parse_branch_short("{\"id\":\"x\",\"name\":\"n\"} trailing"));
}

TEST(ParseBranchDetails, EveryStatusType) {
    struct Case {
        const char* wire;
        StatusType type;
    };
    const Case cases[] = {{"STATUS_TYPE_HEALTHY", StatusType::Healthy},
                          {"STATUS_TYPE_TRANSIENT", StatusType::Transient},
                          {"STATUS_TYPE_FAULT", StatusType::Fault},
                          {"STATUS_TYPE_HIBERNATED", StatusType::Hibernated},
                          {"STATUS_TYPE_UNSPECIFIED", StatusType::Unspecified},
                          {"STATUS_TYPE_SOMETHING_NEW", StatusType::Unknown}};
    for (const auto& c : cases) {
        const auto d = parse_branch_details(details_json(k_id, "sb-x", k_parent, c.wire, 1, 1));
        EXPECT_EQ(d.status.type, c.type) << c.wire;
    }
}

TEST(ParseBranchDetails, Fields) {
    const auto d = parse_branch_details(
        details_json(k_id, "sb-x", k_parent, "STATUS_TYPE_TRANSIENT", 2, 1,
                     "postgresql://u:p@" + k_id + ".gw.example:5432/xata?sslmode=require"));
    EXPECT_EQ(d.branch.id, k_id);
    EXPECT_EQ(d.branch.parent_id.value_or(""), k_parent);
    EXPECT_EQ(d.status.phase, "Setting up primary");
    EXPECT_EQ(d.status.instance_count, 2);
    EXPECT_EQ(d.status.instance_ready_count, 1);
    ASSERT_TRUE(d.connection_string.has_value());
    EXPECT_NE(d.connection_string->find(".gw.example"), std::string::npos);

    const auto h =
        parse_branch_details(details_json(k_id, "sb-x", "", "STATUS_TYPE_HIBERNATED", 0, 0));
    EXPECT_FALSE(h.connection_string.has_value());  // null
    EXPECT_FALSE(h.branch.parent_id.has_value());
    EXPECT_EQ(h.status.instance_count, 0);
}

TEST(ParseBranchDetails, OddInstanceCountsBecomeZero) {
    const auto d = parse_branch_details(
        R"({"id":"x","name":"n","status":{"statusType":"STATUS_TYPE_HEALTHY","instanceCount":"3","instanceReadyCount":-1}})");
    EXPECT_EQ(d.status.type, StatusType::Healthy);
    EXPECT_EQ(d.status.instance_count, 0);
    EXPECT_EQ(d.status.instance_ready_count, 0);
    EXPECT_EQ(d.status.phase, "");
}

TEST(ParseBranchDetails, MissingStatusIsProtocol) {
    EXPECT_PROTOCOL(parse_branch_details(R"({"id":"x","name":"n"})"));
    EXPECT_PROTOCOL(parse_branch_details(R"({"id":"x","name":"n","status":null})"));
    EXPECT_PROTOCOL(parse_branch_details(R"({"id":"x","name":"n","status":"HEALTHY"})"));
    EXPECT_PROTOCOL(parse_branch_details(R"({"id":"x","name":"n","status":{}})"));
    EXPECT_PROTOCOL(parse_branch_details(R"({"id":"x","name":"n","status":{"statusType":5}})"));
    EXPECT_PROTOCOL(
        parse_branch_details(R"({"name":"n","status":{"statusType":"STATUS_TYPE_HEALTHY"}})"));
    EXPECT_PROTOCOL(parse_branch_details("<!DOCTYPE html><html><title>504</title></html>"));
}

TEST(ParseCredentials, XataCoreShape) {
    const auto c = parse_credentials(R"({"username":"xata","password":"s3cr3t/@:?"})");
    EXPECT_EQ(c.username, "xata");
    EXPECT_EQ(c.password, "s3cr3t/@:?");
    EXPECT_FALSE(c.host.has_value());
    EXPECT_FALSE(c.port.has_value());
    EXPECT_FALSE(c.database.has_value());
    EXPECT_FALSE(c.connection_string.has_value());
}

TEST(ParseCredentials, HostedShape) {
    const auto c = parse_credentials(
        R"({"username":"xata","password":"pw","hostname":"abc.us-east-1.xata.tech","port":5432,)"
        R"("dbname":"xata","connectionString":"postgresql://xata:pw@abc.us-east-1.xata.tech:5432/xata"})");
    EXPECT_EQ(c.host.value_or(""), "abc.us-east-1.xata.tech");
    EXPECT_EQ(c.port.value_or(0), 5432);
    EXPECT_EQ(c.database.value_or(""), "xata");
    EXPECT_EQ(c.connection_string.value_or(""),
              "postgresql://xata:pw@abc.us-east-1.xata.tech:5432/xata");
}

TEST(ParseCredentials, NullsAndOddPorts) {
    auto c = parse_credentials(
        R"({"username":"u","password":"p","hostname":null,"port":null,"dbname":null,"connectionString":null})");
    EXPECT_FALSE(c.host.has_value());
    EXPECT_FALSE(c.port.has_value());
    EXPECT_FALSE(c.database.has_value());
    EXPECT_FALSE(c.connection_string.has_value());
    c = parse_credentials(R"({"username":"u","password":"p","port":"6543"})");
    EXPECT_EQ(c.port.value_or(0), 6543);
    c = parse_credentials(R"({"username":"u","password":"p","port":70000})");
    EXPECT_FALSE(c.port.has_value());
    c = parse_credentials(R"({"username":"u","password":"p","port":"x"})");
    EXPECT_FALSE(c.port.has_value());
    c = parse_credentials(R"({"username":"u","password":"p","port":0})");
    EXPECT_FALSE(c.port.has_value());
}

TEST(ParseCredentials, MissingOrWrongIsProtocol) {
    EXPECT_PROTOCOL(parse_credentials(R"({"username":"xata"})"));
    EXPECT_PROTOCOL(parse_credentials(R"({"password":"p"})"));
    EXPECT_PROTOCOL(parse_credentials(R"({"username":"xata","password":null})"));
    EXPECT_PROTOCOL(parse_credentials(R"({"username":"xata","password":123})"));
    EXPECT_PROTOCOL(parse_credentials(R"({"username":"xata","password":""})"));
    EXPECT_PROTOCOL(parse_credentials("username=xata&password=p"));
    EXPECT_PROTOCOL(parse_credentials(""));
}

TEST(ParseErrorBody, JsonPlainAndHtml) {
    auto e = parse_error_body(R"({"id":"req-123","message":"branch [x] already exists"})");
    EXPECT_EQ(e.id, "req-123");
    EXPECT_EQ(e.message, "branch [x] already exists");

    e = parse_error_body(R"({"error":"bad thing"})");
    EXPECT_EQ(e.message, "bad thing");

    e = parse_error_body("Too Many Requests\n");
    EXPECT_EQ(e.id, "");
    EXPECT_EQ(e.message, "Too Many Requests");

    e = parse_error_body(
        "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n<center><h1>502 Bad "
        "Gateway</h1></center>\n"
        "<hr><center>nginx</center>\n</body>\n</html>\n");
    EXPECT_EQ(e.id, "");
    EXPECT_EQ(e.message.find('<'), std::string::npos) << e.message;
    EXPECT_EQ(e.message.find('\n'), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("502 Bad Gateway"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("nginx"), std::string::npos) << e.message;

    e = parse_error_body("");
    EXPECT_EQ(e.message, "");

    e = parse_error_body(std::string(1000, 'x'));
    EXPECT_LE(e.message.size(), 203U);

    e = parse_error_body("[1,2]");  // JSON but not an object: treated as text
    EXPECT_EQ(e.id, "");
}

TEST(ParseTimestamp, Table) {
    EXPECT_EQ(parse_timestamp("1970-01-01T00:00:00Z"), 0);
    EXPECT_EQ(parse_timestamp("2025-05-01T10:20:30Z"), 1746094830);
    EXPECT_EQ(parse_timestamp("2025-05-01T10:20:30.123456Z"), 1746094830);
    EXPECT_EQ(parse_timestamp("2025-05-01T12:20:30+02:00"), 1746094830);
    EXPECT_EQ(parse_timestamp("2025-05-01T05:20:30-05:00"), 1746094830);
    EXPECT_EQ(parse_timestamp("2024-02-29T00:00:00Z"), 1709164800);
    EXPECT_EQ(parse_timestamp("2000-03-01T00:00:00z"), 951868800);
    EXPECT_FALSE(parse_timestamp("2025-05-01T10:20:30"));  // no zone
    EXPECT_FALSE(parse_timestamp("2025-13-01T10:20:30Z"));
    EXPECT_FALSE(parse_timestamp("2025-05-01 10:20:30Z"));
    EXPECT_FALSE(parse_timestamp(""));
    EXPECT_FALSE(parse_timestamp("yesterday"));
    EXPECT_FALSE(parse_timestamp("1969-12-31T23:59:59Z"));
}

TEST(MakeBodies, ExactJson) {
    EXPECT_EQ(make_create_body("sb-x", k_parent, ""),
              R"({"mode":"inherit","name":"sb-x","parentID":")" + k_parent + R"("})");
    EXPECT_EQ(
        make_create_body("sb-x", "p1", "made by xbranch"),
        R"({"description":"made by xbranch","mode":"inherit","name":"sb-x","parentID":"p1"})");
    // Quotes and control characters are escaped.
    const auto odd = nlohmann::json::parse(make_create_body("a\"b\\c\n", "p", ""));
    EXPECT_EQ(odd["name"], "a\"b\\c\n");
    EXPECT_EQ(make_wake_body(), R"({"hibernate":false})");
}

TEST(StatusTypeName, Names) {
    EXPECT_STREQ(status_type_name(StatusType::Healthy), "HEALTHY");
    EXPECT_STREQ(status_type_name(StatusType::Hibernated), "HIBERNATED");
    EXPECT_EQ(parse_status_type(""), StatusType::Unspecified);
}

TEST(ParseTimestamp, OnlyDaysTheCalendarHas) {
    EXPECT_FALSE(parse_timestamp("2025-02-31T00:00:00Z"));
    EXPECT_FALSE(parse_timestamp("2025-02-29T00:00:00Z"));  // not a leap year
    EXPECT_FALSE(parse_timestamp("2025-04-31T00:00:00Z"));
    EXPECT_FALSE(parse_timestamp("2100-02-29T00:00:00Z"));  // century, not leap
    EXPECT_FALSE(parse_timestamp("2025-05-01T-1:20:30Z"));
    EXPECT_EQ(parse_timestamp("2000-02-29T00:00:00Z"), 951782400);
    EXPECT_EQ(parse_timestamp("2025-12-31T23:59:59Z"), 1767225599);
}
