// xata-emulator: a local stand-in for the Xata branch API, for tests.
// See docs/interfaces.md for the options and the admin API.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include "emulator.hpp"
#include "http_server.hpp"

namespace {

void usage(std::ostream& out) {
    out << "usage: xata-emulator --api-key KEY [--port N] [--port-file FILE] [--pg CONNINFO]\n"
           "  [--host ADDR] [--readonly-key KEY] [--org ID] [--project ID] [--root-branch NAME]\n"
           "  [--pg-public-host HOST] [--pg-public-port N] [--db-prefix P] [--seed-sql FILE]\n"
           "  [--credentials-shape hosted|core] [--password-style plain|special]\n"
           "  [--hibernated-ms N] [--transient-ms N] [--max-branches N] [--seed N]\n"
           "  [--fault-rate P] [--rate-limit N] [--drop-on-exit] [--quiet]\n"
           "The API key is also read from XATA_EMULATOR_API_KEY when --api-key is absent.\n";
}

[[noreturn]] void fail(const std::string& msg) {
    std::cerr << "xata-emulator: " << msg << "\n";
    std::exit(2);
}

long to_long(const std::string& flag, const std::string& v) {
    try {
        std::size_t used = 0;
        const long n = std::stol(v, &used);
        if (used != v.size())
            throw std::invalid_argument(v);
        return n;
    } catch (const std::exception&) {
        fail(flag + " needs a number, not [" + v + "]");
    }
}

}  // namespace

int main(int argc, char** argv) {
    emu::Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc)
                fail(a + " needs a value");
            return argv[++i];
        };
        if (a == "-h" || a == "--help") {
            usage(std::cout);
            return 0;
        } else if (a == "--host") {
            o.host = value();
            if (o.host == "localhost")
                o.host = "127.0.0.1";
        } else if (a == "--port") {
            const long p = to_long(a, value());
            if (p < 0 || p > 65535)
                fail("--port out of range");
            o.port = static_cast<std::uint16_t>(p);
        } else if (a == "--port-file") {
            o.port_file = value();
        } else if (a == "--api-key") {
            o.api_key = value();
        } else if (a == "--readonly-key") {
            o.readonly_key = value();
        } else if (a == "--org") {
            o.org = value();
        } else if (a == "--project") {
            o.project = value();
        } else if (a == "--root-branch") {
            o.root_branch = value();
        } else if (a == "--pg") {
            o.pg = value();
        } else if (a == "--pg-public-host") {
            o.pg_public_host = value();
        } else if (a == "--pg-public-port") {
            o.pg_public_port = static_cast<int>(to_long(a, value()));
        } else if (a == "--db-prefix") {
            o.db_prefix = value();
        } else if (a == "--seed-sql") {
            o.seed_sql_file = value();
        } else if (a == "--credentials-shape") {
            o.credentials_shape = value();
            if (o.credentials_shape != "hosted" && o.credentials_shape != "core") {
                fail("--credentials-shape is hosted or core");
            }
        } else if (a == "--password-style") {
            o.password_style = value();
            if (o.password_style != "plain" && o.password_style != "special") {
                fail("--password-style is plain or special");
            }
        } else if (a == "--hibernated-ms") {
            o.hibernated_ms = to_long(a, value());
        } else if (a == "--transient-ms") {
            o.transient_ms = to_long(a, value());
        } else if (a == "--max-branches") {
            o.max_branches = to_long(a, value());
        } else if (a == "--seed") {
            o.seed = static_cast<std::uint64_t>(to_long(a, value()));
        } else if (a == "--fault-rate") {
            const std::string v = value();
            try {
                o.fault_rate = std::stod(v);
            } catch (const std::exception&) {
                fail("--fault-rate needs a number");
            }
            if (o.fault_rate < 0 || o.fault_rate > 1)
                fail("--fault-rate is between 0 and 1");
        } else if (a == "--rate-limit") {
            o.rate_limit = to_long(a, value());
        } else if (a == "--drop-on-exit") {
            o.drop_on_exit = true;
        } else if (a == "--quiet") {
            o.quiet = true;
        } else {
            usage(std::cerr);
            fail("unknown option " + a);
        }
    }
    if (o.api_key.empty()) {
        if (const char* k = std::getenv("XATA_EMULATOR_API_KEY"); k != nullptr)
            o.api_key = k;
    }
    if (o.api_key.empty())
        fail("--api-key is required");

    // Signals are taken by sigwait below; every thread inherits the mask.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    emu::Emulator emulator(o);
    std::string error;
    if (!emulator.init(error)) {
        std::cerr << "xata-emulator: " << error << "\n";
        return 1;
    }
    emu::HttpServer server([&emulator](const emu::HttpRequest& r) { return emulator.handle(r); });
    if (!server.listen(o.host, o.port, error)) {
        std::cerr << "xata-emulator: " << error << "\n";
        emulator.shutdown();
        return 1;
    }
    server.start();
    if (!o.port_file.empty()) {
        const std::string tmp = o.port_file + ".tmp";
        {
            std::ofstream f(tmp);
            f << server.port() << "\n";
        }
        if (std::rename(tmp.c_str(), o.port_file.c_str()) != 0) {
            std::cerr << "xata-emulator: cannot write " << o.port_file << "\n";
        }
    }
    std::cout << "xata-emulator listening on http://" << o.host << ":" << server.port()
              << std::endl;

    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::cerr << "xata-emulator: " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ", stopping\n";
    server.stop();
    emulator.shutdown();
    std::cerr << "xata-emulator: stopped\n";
    return 0;
}
