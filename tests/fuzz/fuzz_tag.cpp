// decode_tag never throws; whatever it accepts encodes back to a valid
// description that decodes to the same tag.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "xbranch/tag.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto tag = xbranch::decode_tag(text);
    (void)xbranch::has_xbranch_marker(text);
    if (!tag) {
        return 0;
    }
    const auto again = xbranch::encode_tag(*tag);
    if (!xbranch::valid_description(again) || xbranch::decode_tag(again) != tag) {
        std::abort();
    }
    return 0;
}
