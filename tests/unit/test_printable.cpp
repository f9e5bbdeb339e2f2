// printable(): what reaches the terminal from outside (API bodies, libpq,
// hook output) cannot drive it.
#include <gtest/gtest.h>

#include "xbranch/error.hpp"

using xbranch::printable;

TEST(Printable, PlainTextLineBreaksTabsAndUtf8StayAsTheyAre) {
    EXPECT_EQ(printable(""), "");
    EXPECT_EQ(printable("branch sb-x is ready\n\tdone"), "branch sb-x is ready\n\tdone");
    EXPECT_EQ(printable("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\x98"),
              "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\x98");
    EXPECT_EQ(printable("a \\x1b already"), "a \\x1b already");  // text, not a byte
    EXPECT_EQ(printable("\xc2\xa0nbsp \xef\xbf\xbd"), "\xc2\xa0nbsp \xef\xbf\xbd");
}

TEST(Printable, C0ControlsOtherThanNewlineAndTabAreEscaped) {
    EXPECT_EQ(printable("\x1b[2J\x1b]0;pwned\x07"), "\\x1b[2J\\x1b]0;pwned\\x07");
    EXPECT_EQ(printable("a\rb"), "a\\x0db");
    EXPECT_EQ(printable(std::string("nul\0x", 5)), "nul\\x00x");
    EXPECT_EQ(printable("\x01\x08\x0b\x0c\x1f"), "\\x01\\x08\\x0b\\x0c\\x1f");
    EXPECT_EQ(printable("del\x7f"), "del\\x7f");
}

TEST(Printable, C1ControlsAreEscapedAsCodePoints) {
    EXPECT_EQ(printable("\xc2\x9b"
                        "31m"),
              "\\u009b31m");  // CSI
    EXPECT_EQ(printable("\xc2\x80 \xc2\x85 \xc2\x9f"), "\\u0080 \\u0085 \\u009f");
}

TEST(Printable, BytesThatAreNotUtf8AreEscapedOneByOne) {
    EXPECT_EQ(printable("\x9b"
                        "2J"),
              "\\x9b2J");                                              // a raw C1 byte
    EXPECT_EQ(printable("\xff\xfe"), "\\xff\\xfe");                    // never UTF-8
    EXPECT_EQ(printable("\xc3"), "\\xc3");                             // cut short at the end
    EXPECT_EQ(printable("\xc3x"), "\\xc3x");                           // cut short before ASCII
    EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf");                    // overlong '/'
    EXPECT_EQ(printable("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");           // overlong
    EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");           // a surrogate
    EXPECT_EQ(printable("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // past U+10FFFF
    EXPECT_EQ(printable("\xe6\x97"
                        "a"),
              "\\xe6\\x97a");
    EXPECT_EQ(printable("ok\xf0\x9f\x90"), "ok\\xf0\\x9f\\x90");
}
