// A stable 64-bit hash (FNV-1a) for request fingerprints: the same input
// hashes the same on every build and run, unlike std::hash.
#pragma once

#include <cstdint>
#include <string_view>

namespace errata {

class Fingerprint {
 public:
  Fingerprint& Add(std::string_view s) {
    for (unsigned char c : s) Mix(c);
    Mix(0xff);  // separator, so ("ab","c") != ("a","bc")
    return *this;
  }
  Fingerprint& Add(int64_t v) {
    for (int i = 0; i < 8; ++i) Mix(static_cast<unsigned char>(v >> (8 * i)));
    return *this;
  }
  uint64_t value() const { return h_ & 0x7fffffffffffffffULL; }  // fits a signed column

 private:
  void Mix(unsigned char c) {
    h_ ^= c;
    h_ *= 0x100000001b3ULL;
  }
  uint64_t h_ = 0xcbf29ce484222325ULL;
};

}  // namespace errata
