// xata-emulator: a local stand-in for the Xata branch API, for tests.
#include "cli.hpp"

int main(int argc, char** argv) {
    return emu::run(argc, argv);
}
