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

namespace {

constexpr uint64_t kRandA = uint64_t{1} << 12;  // bits after the version nibble
constexpr uint64_t kRandB = uint64_t{1} << 62;  // bits after the variant

// The text of the UUIDv7 with these fields (rand_a < 2^12, rand_b < 2^62).
std::string EncodeV7(uint64_t ms, uint64_t rand_a, uint64_t rand_b) {
  unsigned char b[16];
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  b[6] = static_cast<unsigned char>(0x70 | (rand_a >> 8));  // version 7
  b[7] = static_cast<unsigned char>(rand_a);
  b[8] = static_cast<unsigned char>(0x80 | (rand_b >> 56));  // RFC 4122 variant
  for (int i = 9; i < 16; ++i) b[i] = static_cast<unsigned char>(rand_b >> (8 * (15 - i)));
  std::string out;
  out.reserve(36);
  AppendUuidText(reinterpret_cast<const char*>(b), &out);
  return out;
}

}  // namespace

std::string NewUuidV7(Micros now) {
  const uint64_t r1 = Generator()();
  const uint64_t r2 = Generator()();
  return EncodeV7(static_cast<uint64_t>(now / 1000), r1 % kRandA, r2 % kRandB);
}

UuidV7Sequence::UuidV7Sequence(Micros now)
    // The top bit of the 74 clear: 2^73 ids before the counter could carry
    // into the time, which no utterance comes near.
    : UuidV7Sequence(now, Generator()() % (kRandA / 2), Generator()() % kRandB) {}

UuidV7Sequence::UuidV7Sequence(Micros now, uint64_t rand_a, uint64_t rand_b)
    : ms_(static_cast<uint64_t>(now / 1000)), rand_a_(rand_a % kRandA), rand_b_(rand_b % kRandB) {}

std::string UuidV7Sequence::Next() {
  std::string id = EncodeV7(ms_, rand_a_, rand_b_);
  // +1 over the 74 bits: rand_b's carry goes into rand_a, and rand_a's into
  // the milliseconds (RFC 9562 6.2: the time may run ahead rather than the
  // order break), never into the version or variant bits between them.
  if (++rand_b_ == kRandB) {
    rand_b_ = 0;
    if (++rand_a_ == kRandA) {
      rand_a_ = 0;
      ++ms_;
    }
  }
  return id;
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
