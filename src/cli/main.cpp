#include "app.hpp"

int main(int argc, char** argv) {
    return xbranch::cli::run(argc, argv);
}
