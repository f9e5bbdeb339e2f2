#include <gtest/gtest.h>

#include "xbranch/error.hpp"
#include "xbranch/tag.hpp"

namespace xbranch {
namespace {

BranchTag sample() {
    BranchTag t;
    t.token = "k3j4h5g6f7";
    return t;
}

TEST(Tag, TokenOnlyRoundTrips) {
    const auto text = encode_tag(sample());
    EXPECT_EQ(text, "xb1 rk3j4h5g6f7");
    EXPECT_TRUE(valid_description(text));
    EXPECT_EQ(decode_tag(text), sample());
}

TEST(Tag, EveryFieldRoundTripsWithinTheLimit) {
    BranchTag t = sample();
    t.expires_at = 1796139000;  // 2026-12-01 15:30 UTC
    t.hooks = HookState::Done;
    t.hooks_fingerprint = "1a2b";
    t.note = "seeded";
    const auto text = encode_tag(t);
    EXPECT_EQ(text, "xb1 rk3j4h5g6f7 e202612011530 hd1a2b - seeded");
    EXPECT_LE(text.size(), k_max_description);
    EXPECT_TRUE(valid_description(text));
    EXPECT_EQ(decode_tag(text), t);
}

TEST(Tag, ExpiryIsRoundedUpToAMinute) {
    BranchTag t = sample();
    t.expires_at = 1796139001;
    const auto back = decode_tag(encode_tag(t));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->expires_at, 1796139060);
    EXPECT_EQ(round_up_to_minute(120), 120);
    EXPECT_EQ(round_up_to_minute(121), 180);
}

TEST(Tag, PendingHooks) {
    BranchTag t = sample();
    t.hooks = HookState::Pending;
    t.hooks_fingerprint = "zz00";
    EXPECT_EQ(encode_tag(t), "xb1 rk3j4h5g6f7 hpzz00");
    EXPECT_EQ(decode_tag("xb1 rk3j4h5g6f7 hpzz00"), t);
}

TEST(Tag, LongNoteIsCutToFitAndCleaned) {
    BranchTag t = sample();
    t.expires_at = 1796139000;
    t.note = "  !!a very long note: with punctuation, that cannot all fit in fifty";
    const auto text = encode_tag(t);
    EXPECT_LE(text.size(), k_max_description);
    EXPECT_TRUE(valid_description(text)) << text;
    const auto back = decode_tag(text);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->note.rfind("a very long note", 0), 0U) << back->note;
}

TEST(Tag, NoteThatLooksLikeAFieldStaysANote) {
    BranchTag t = sample();
    t.note = "e202612011530";
    const auto back = decode_tag(encode_tag(t));
    ASSERT_TRUE(back);
    EXPECT_FALSE(back->expires_at);
    EXPECT_EQ(back->note, "e202612011530");
}

// Found by fuzz_tag: a note with runs of spaces and trailing spaces (written
// by hand in the console, say) must decode to what encode_tag writes back.
TEST(Tag, NoteWithRunsOfSpacesRoundTrips) {
    const auto first = decode_tag("xb1 rk34hj5g6f7 - ssng     e  ");
    ASSERT_TRUE(first);
    EXPECT_EQ(first->note, "ssng     e");
    const auto text = encode_tag(*first);
    EXPECT_EQ(text, "xb1 rk34hj5g6f7 - ssng     e");
    EXPECT_EQ(decode_tag(text), first);
    const auto blank = decode_tag("xb1 rk34hj5g6f7 -   ");
    ASSERT_TRUE(blank);
    EXPECT_EQ(blank->note, "");
    EXPECT_EQ(decode_tag(encode_tag(*blank)), blank);
}

TEST(Tag, ForeignAndDamagedDescriptionsAreNotTags) {
    for (const char* text :
         {"", "staging copy", "xb1", "xb1 ", "xb1 rshort", "xb1 rK3J4H5G6F7", "xb2 rk3j4h5g6f7",
          "xb1 rk3j4h5g6f7 e202502311200", "xb1 rk3j4h5g6f7 e062212011530",
          "xb1 rk3j4h5g6f7 e202612012460", "xb1 rk3j4h5g6f7 zfuture", "xb1 rk3j4h5g6f7 hx1a2b",
          "xb1  rk3j4h5g6f7", "xb1 rk3j4h5g6f7 - bad_char",
          "xb1 rk3j4h5g6f7 - x this description is over fifty chars"}) {
        EXPECT_FALSE(decode_tag(text)) << "'" << text << "'";
    }
}

TEST(Tag, MarkerOfAnyVersion) {
    EXPECT_TRUE(has_xbranch_marker("xb1 rk3j4h5g6f7"));
    EXPECT_TRUE(has_xbranch_marker("xb2 something new"));
    EXPECT_TRUE(has_xbranch_marker("xb12"));
    EXPECT_FALSE(has_xbranch_marker("xbox"));
    EXPECT_FALSE(has_xbranch_marker("xb"));
    EXPECT_FALSE(has_xbranch_marker("staging"));
}

TEST(Tag, EncodeRefusesMalformedFields) {
    BranchTag t = sample();
    t.token = "SHORT";
    EXPECT_THROW(encode_tag(t), Error);
    t = sample();
    t.expires_at = -5;
    EXPECT_THROW(encode_tag(t), Error);
    t = sample();
    t.hooks = HookState::Done;
    t.hooks_fingerprint = "x";
    EXPECT_THROW(encode_tag(t), Error);
}

TEST(Tag, DescriptionRule) {
    EXPECT_TRUE(valid_description(""));
    EXPECT_TRUE(valid_description("a b-c"));
    EXPECT_FALSE(valid_description("-abc"));
    EXPECT_FALSE(valid_description(" abc"));
    EXPECT_FALSE(valid_description("abc_def"));
    EXPECT_FALSE(valid_description(std::string(51, 'a')));
    EXPECT_TRUE(valid_description(std::string(50, 'a')));
}

TEST(Tag, RunTokensAndFingerprints) {
    const auto a = make_run_token(1);
    const auto b = make_run_token(2);
    EXPECT_EQ(a.size(), k_token_length);
    EXPECT_NE(a, b);
    BranchTag t = sample();
    t.token = make_run_token(0xffffffffffffffffULL);
    EXPECT_NO_THROW(encode_tag(t));
    EXPECT_EQ(hooks_fingerprint({"a.sql", "b.sql"}).size(), k_fingerprint_length);
    EXPECT_NE(hooks_fingerprint({"a.sql", "b.sql"}), hooks_fingerprint({"b.sql", "a.sql"}));
    EXPECT_NE(hooks_fingerprint({"ab", "c"}), hooks_fingerprint({"a", "bc"}));
}

}  // namespace
}  // namespace xbranch
