#include <gtest/gtest.h>

#include "xbranch/connection.hpp"
#include "xbranch/redact.hpp"

using namespace xbranch;

TEST(ParsePostgresUrl, Full) {
    const auto u = parse_postgres_url(
        "postgresql://xata:pw@abc.us-east-1.xata.tech:5432/xata?sslmode=require");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->username, "xata");
    EXPECT_EQ(u->password, "pw");
    EXPECT_EQ(u->host, "abc.us-east-1.xata.tech");
    EXPECT_EQ(u->port, 5432);
    EXPECT_EQ(u->database, "xata");
}

TEST(ParsePostgresUrl, Variants) {
    auto u = parse_postgres_url("postgres://user@host/db");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->username, "user");
    EXPECT_EQ(u->password, "");
    EXPECT_EQ(u->host, "host");
    EXPECT_FALSE(u->port);
    EXPECT_EQ(u->database, "db");

    u = parse_postgres_url("postgresql://host");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->host, "host");
    EXPECT_EQ(u->username, "");
    EXPECT_EQ(u->database, "");

    u = parse_postgres_url("postgresql://host:6543?sslmode=disable");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->host, "host");
    EXPECT_EQ(u->port, 6543);
    EXPECT_EQ(u->database, "");

    u = parse_postgres_url("postgresql://u:p%40ss@h:1/my%20db?x=1&y=2");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->password, "p@ss");
    EXPECT_EQ(u->database, "my db");
    EXPECT_EQ(u->port, 1);

    // A raw '@' in the password: the last '@' ends the userinfo.
    u = parse_postgres_url("postgresql://u:a@b@h:5432/d");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->password, "a@b");
    EXPECT_EQ(u->host, "h");
}

TEST(ParsePostgresUrl, Ipv6) {
    auto u = parse_postgres_url("postgresql://u:p@[::1]:5433/db");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->host, "::1");
    EXPECT_EQ(u->port, 5433);
    EXPECT_EQ(u->database, "db");

    u = parse_postgres_url("postgresql://u:p@[2001:db8::7]/db");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->host, "2001:db8::7");
    EXPECT_FALSE(u->port);
}

TEST(ParsePostgresUrl, GarbageIsNullopt) {
    for (const char* s : {"", "postgresql://", "http://host/db", "host:5432/db",
                          "postgresql://u:p@/db", "postgresql://h:0/db", "postgresql://h:65536/db",
                          "postgresql://h:abc/db", "postgresql://h:/db", "postgresql://h:5432x/db",
                          "postgresql://u:p@:5432/db", "postgresql://[::1]:x/db"}) {
        EXPECT_FALSE(parse_postgres_url(s).has_value()) << s;
    }
}

TEST(Endpoint, ParseAndName) {
    EXPECT_EQ(parse_endpoint("rw"), Endpoint::ReadWrite);
    EXPECT_EQ(parse_endpoint("r"), Endpoint::Read);
    EXPECT_EQ(parse_endpoint("ro"), Endpoint::ReadOnly);
    EXPECT_EQ(parse_endpoint("pooler"), Endpoint::Pooler);
    EXPECT_FALSE(parse_endpoint("RW"));
    EXPECT_FALSE(parse_endpoint("primary"));
    for (auto e : {Endpoint::ReadWrite, Endpoint::Read, Endpoint::ReadOnly, Endpoint::Pooler}) {
        EXPECT_EQ(parse_endpoint(endpoint_name(e)), e);
    }
}

TEST(Endpoint, ApplyInsertsSuffixIntoFirstLabel) {
    const std::string h = "abc.us-east-1.xata.tech";
    EXPECT_EQ(apply_endpoint(h, Endpoint::ReadWrite), h);
    EXPECT_EQ(apply_endpoint(h, Endpoint::Read), "abc-r.us-east-1.xata.tech");
    EXPECT_EQ(apply_endpoint(h, Endpoint::ReadOnly), "abc-ro.us-east-1.xata.tech");
    EXPECT_EQ(apply_endpoint(h, Endpoint::Pooler), "abc-pooler.us-east-1.xata.tech");
    EXPECT_EQ(apply_endpoint("localhost", Endpoint::Pooler), "localhost-pooler");
}

TEST(BuildConnectionString, PlainAndMasked) {
    ConnectionInfo c;
    c.host = "abc.us-east-1.xata.tech";
    c.port = 5432;
    c.database = "xata";
    c.username = "xata";
    c.password = "pw";
    EXPECT_EQ(build_connection_string(c),
              "postgresql://xata:pw@abc.us-east-1.xata.tech:5432/xata?sslmode=require");
    EXPECT_EQ(build_connection_string(c, true),
              "postgresql://xata:********@abc.us-east-1.xata.tech:5432/xata?sslmode=require");
    c.sslmode = "";
    EXPECT_EQ(build_connection_string(c), "postgresql://xata:pw@abc.us-east-1.xata.tech:5432/xata");
    c.password = "";
    EXPECT_EQ(build_connection_string(c), "postgresql://xata@abc.us-east-1.xata.tech:5432/xata");
}

TEST(BuildConnectionString, EverySpecialCharRoundTrips) {
    ConnectionInfo c;
    c.host = "h.example";
    c.port = 6543;
    c.database = "my db/x";
    c.username = "us@er:name";
    c.password = "@:/?#%&+ '\"[]{}\\|^`<>=;,$!*()~\xc3\xa9";
    const std::string url = build_connection_string(c);
    EXPECT_EQ(url.find(c.password), std::string::npos);
    const auto p = parse_postgres_url(url);
    ASSERT_TRUE(p) << url;
    EXPECT_EQ(p->username, c.username);
    EXPECT_EQ(p->password, c.password);
    EXPECT_EQ(p->host, c.host);
    EXPECT_EQ(p->port, 6543);
    EXPECT_EQ(p->database, c.database);

    const std::string masked = build_connection_string(c, true);
    const auto m = parse_postgres_url(masked);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->password, std::string(k_mask));
    EXPECT_EQ(m->username, c.username);
}

TEST(BuildConnectionString, Ipv6HostRoundTrips) {
    // Initialized, not assigned: GCC 12 at -O3 reports a false -Wrestrict
    // for short literals assigned to a default-constructed string member.
    const ConnectionInfo c{
        .host = "::1", .port = 5433, .database = "db", .username = "u", .password = "p"};
    const std::string url = build_connection_string(c);
    EXPECT_EQ(url, "postgresql://u:p@[::1]:5433/db?sslmode=require");
    const auto p = parse_postgres_url(url);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->host, "::1");
    EXPECT_EQ(p->port, 5433);
}

TEST(Endpoint, XataNamesAndSuffixes) {
    EXPECT_EQ(parse_endpoint("pooled_rw"), Endpoint::Pooler);
    EXPECT_EQ(parse_endpoint("pooler"), Endpoint::Pooler);  // another name for it
    EXPECT_STREQ(endpoint_name(Endpoint::Pooler), "pooled_rw");
    // A host that already names an endpoint gets its suffix replaced.
    const std::string rw = "abc-rw.us-east-1.xata.tech";
    EXPECT_EQ(apply_endpoint(rw, Endpoint::ReadOnly), "abc-ro.us-east-1.xata.tech");
    EXPECT_EQ(apply_endpoint(rw, Endpoint::Pooler), "abc-pooler.us-east-1.xata.tech");
    EXPECT_EQ(apply_endpoint(rw, Endpoint::ReadWrite), rw);
    EXPECT_EQ(apply_endpoint("abc-pooler.x.tech", Endpoint::Read), "abc-r.x.tech");
    EXPECT_EQ(apply_endpoint("abc-ro.x.tech", Endpoint::ReadWrite), "abc-rw.x.tech");
}
