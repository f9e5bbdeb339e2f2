// Small helpers of the emulator: ids, time stamps, random numbers, URLs.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <string>

namespace emu {

// A seeded generator whose output does not depend on the standard
// library's distributions, so one seed gives one sequence everywhere.
class Rng {
  public:
    explicit Rng(std::uint64_t seed) : m_engine(seed) {}
    std::uint64_t next() { return m_engine(); }
    // Uniform in [0, 1).
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    // Uniform in [0, n); n > 0.
    std::uint64_t below(std::uint64_t n) { return next() % n; }

  private:
    std::mt19937_64 m_engine;
};

// RFC 3339 in UTC with microseconds, e.g. 2025-05-05T10:00:00.123456Z.
std::string rfc3339(std::chrono::system_clock::time_point t);

// n characters of lowercase base32hex (0-9, a-v); the first is a letter
// when first_letter is set.
std::string base32hex_id(Rng& rng, std::size_t n, bool first_letter);

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string percent_encode(const std::string& s);

// A password: "plain" is letters and digits; "special" also holds
// characters that need care in URLs and shells: @ : / ? # % & + space ' "
std::string make_password(Rng& rng, bool special);

// ASCII letters in lower case; other bytes as they are.
std::string lower(std::string s);

}  // namespace emu
