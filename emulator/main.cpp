// xata-emulator: a local stand-in for the Xata branch API, for tests.
#include <cstdio>
#include <exception>

#include "cli.hpp"

int main(int argc, char** argv) {
    try {
        return emu::run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "xata-emulator: %s\n", e.what());
    } catch (...) {
        std::fputs("xata-emulator: an unexpected failure\n", stderr);
    }
    return 1;
}
