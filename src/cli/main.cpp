#include <cstdio>

#include "app.hpp"
#include "xbranch/error.hpp"

int main(int argc, char** argv) {
    // run() reports every error itself; this is for one its own reporting
    // could not survive (out of memory while printing).
    try {
        return xbranch::cli::run(argc, argv);
    } catch (...) {
        std::fputs("xbranch: error: an unexpected failure (a bug in xbranch)\n", stderr);
        return xbranch::exit_code(xbranch::ErrorKind::Internal);
    }
}
