#include "core/ids.h"

#include <array>
#include <cstdint>
#include <random>

namespace errata {
namespace {

// Where each byte's two digits start in the 8-4-4-4-12 text.
constexpr uint8_t kAt[kUuidBytes] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};

std::mt19937_64& Generator() {
  thread_local std::mt19937_64 gen([] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }());
  return gen;
}

}  // namespace

std::optional<std::string> CanonicalUuid(std::string_view text) {
  char b[kUuidBytes];
  if (!UuidToBytes(text, b)) return std::nullopt;
  std::optional<std::string> out(std::in_place);
  out->reserve(36);
  AppendUuidText(b, &*out);
  return out;
}

std::string NewUuidV7(Micros now) {
  unsigned char b[16];
  const uint64_t ms = static_cast<uint64_t>(now / 1000);
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  const uint64_t r1 = Generator()();
  const uint64_t r2 = Generator()();
  for (int i = 0; i < 8; ++i) b[6 + i] = static_cast<unsigned char>(r1 >> (8 * i));
  b[14] = static_cast<unsigned char>(r2);
  b[15] = static_cast<unsigned char>(r2 >> 8);
  b[6] = static_cast<unsigned char>(0x70 | (b[6] & 0x0f));  // version 7
  b[8] = static_cast<unsigned char>(0x80 | (b[8] & 0x3f));  // RFC 4122 variant
  std::string out;
  out.reserve(36);
  AppendUuidText(reinterpret_cast<const char*>(b), &out);
  return out;
}

bool UuidToBytes(std::string_view text, char out[kUuidBytes]) {
  // A hex digit's value, or 0xff: one lookup per character, no branches.
  static constexpr auto kValue = [] {
    std::array<uint8_t, 256> v{};
    v.fill(0xff);
    for (int c = 0; c < 10; ++c) v['0' + c] = static_cast<uint8_t>(c);
    for (int c = 0; c < 6; ++c) v['a' + c] = v['A' + c] = static_cast<uint8_t>(10 + c);
    return v;
  }();
  if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' ||
      text[23] != '-') {
    return false;
  }
  const auto* t = reinterpret_cast<const uint8_t*>(text.data());
  uint8_t bad = 0;
  for (size_t i = 0; i < kUuidBytes; ++i) {
    const uint8_t hi = kValue[t[kAt[i]]];
    const uint8_t lo = kValue[t[kAt[i] + 1]];
    bad |= hi | lo;
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return (bad & 0xf0) == 0;
}

void AppendUuidText(const char bytes[kUuidBytes], std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  char t[36];
  t[8] = t[13] = t[18] = t[23] = '-';
  for (size_t i = 0; i < kUuidBytes; ++i) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    t[kAt[i]] = kHex[b >> 4];
    t[kAt[i] + 1] = kHex[b & 0x0f];
  }
  out->append(t, 36);
}

}  // namespace errata
