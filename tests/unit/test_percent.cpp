// percent_encode / percent_decode and their two uses: a Xata API path segment
// (org, project, branch id) and the userinfo of a postgresql:// URL.
#include <gtest/gtest.h>

#include <string>

#include "fakes.hpp"
#include "xbranch/connection.hpp"
#include "xbranch/percent.hpp"
#include "xbranch/xata_client.hpp"

using namespace xbranch;
using namespace xbranch::test;

namespace {

// Each byte of `bytes` alone encodes as %XX, upper-case hex.
void expect_each_encoded(const std::string& bytes) {
    static constexpr char k_hex[] = "0123456789ABCDEF";
    for (const char ch : bytes) {
        const auto c = static_cast<unsigned char>(ch);
        EXPECT_EQ(percent_encode(std::string(1, ch)),
                  (std::string{'%', k_hex[c >> 4], k_hex[c & 15]}))
            << "byte " << int{c};
    }
}

// RFC 3986 3.3: a segment is *pchar (unreserved, %XX, sub-delims, ':', '@');
// every other byte must be encoded. '/' would split it, '?' and '#' end the path.
std::string segment_must_encode() {
    const std::string allowed = "-._~!$&'()*+,;=:@";
    std::string out;
    for (int c = 0; c < 256; ++c) {
        const bool alnum =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && allowed.find(static_cast<char>(c)) == std::string::npos) {
            out += static_cast<char>(c);
        }
    }
    return out;
}

}  // namespace

TEST(PercentEncode, KeepsUnreservedOnly) {
    EXPECT_EQ(percent_encode("abcXYZ019-._~"), "abcXYZ019-._~");
    EXPECT_EQ(percent_encode("@:/?#%&+ '\""), "%40%3A%2F%3F%23%25%26%2B%20%27%22");
    EXPECT_EQ(percent_encode("caf\xc3\xa9"), "caf%C3%A9");
    EXPECT_EQ(percent_encode(std::string("a\0b", 3)), "a%00b");
    EXPECT_EQ(percent_encode(""), "");
}

TEST(PercentDecode, Decodes) {
    EXPECT_EQ(percent_decode("%40%3a%2F"), "@:/");
    EXPECT_EQ(percent_decode("caf%C3%A9"), "caf\xc3\xa9");
    // Malformed escapes stay as they are.
    EXPECT_EQ(percent_decode("100%"), "100%");
    EXPECT_EQ(percent_decode("%zz"), "%zz");
    EXPECT_EQ(percent_decode("%4"), "%4");
    EXPECT_EQ(percent_decode("a+b"), "a+b");  // '+' is not a space here
}

TEST(PercentCoding, RoundTrips) {
    const std::string samples[] = {
        "@:/?#%&+ '\"", "p@ss:w/rd?#", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "%41",
        "%%",           "plain",       std::string("\x00\x01\x7f\xff", 4),     "tab\tnew\nline",
    };
    for (const auto& s : samples) {
        EXPECT_EQ(percent_decode(percent_encode(s)), s);
    }
    std::string all;
    for (int c = 0; c < 256; ++c) {
        all += static_cast<char>(c);
    }
    EXPECT_EQ(percent_decode(percent_encode(all)), all);
}

TEST(PercentEncode, EncodesWhatAPathSegmentMustNot) {
    const std::string must = segment_must_encode();
    ASSERT_EQ(must.size(), 256U - 62U - 17U);  // all but alphanumerics and "-._~!$&'()*+,;=:@"
    ASSERT_NE(must.find('/'), std::string::npos);
    ASSERT_NE(must.find('%'), std::string::npos);
    expect_each_encoded(must);
}

TEST(PercentEncode, EncodesWhatAUserinfoPartMustNot) {
    // RFC 3986 3.2.1: userinfo is *(unreserved / %XX / sub-delims / ':'), and
    // ':' splits user from password: the segment's set plus ':' and '@'.
    const std::string must = segment_must_encode() + ":@";
    expect_each_encoded(must);
}

TEST(PercentEncode, SubDelimsAreEncodedTooForBothUses) {
    // Both grammars would allow them raw; one stricter set serves both uses.
    EXPECT_EQ(percent_encode("!$&'()*+,;="), "%21%24%26%27%28%29%2A%2B%2C%3B%3D");
}

TEST(PercentEncode, ApiPathSegmentsStayOneSegmentEach) {
    FakeClock clock;
    FakeTransport transport{&clock};
    const XataClient client{
        transport, clock,
        ApiTarget{"https://api.example.test", "xau_percentKey123456", "org/1?x#y", "prj 1@%"},
        RetryPolicy{}, 1};
    const std::string project =
        "https://api.example.test/organizations/org%2F1%3Fx%23y/projects/prj%201%40%25";
    EXPECT_EQ(client.branch_url("a/b?c#d"), project + "/branches/a%2Fb%3Fc%23d");
}

TEST(PercentEncode, ConnectionUrlUserAndPasswordSurviveTheirDelimiters) {
    ConnectionInfo info;
    info.host = "db.example.test";
    info.database = "app/db?";
    info.username = "us:er@x";
    info.password = "p@ss:w/rd?#%";
    const std::string url = build_connection_string(info);
    EXPECT_EQ(
        url.rfind("postgresql://us%3Aer%40x:p%40ss%3Aw%2Frd%3F%23%25@db.example.test:5432/", 0), 0U)
        << url;
    const auto parsed = parse_postgres_url(url);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->username, info.username);
    EXPECT_EQ(parsed->password, info.password);
    EXPECT_EQ(parsed->host, info.host);
    EXPECT_EQ(parsed->database, info.database);
}
