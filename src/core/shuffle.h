// A Fisher–Yates shuffle of errata's own. std::shuffle's permutation is
// implementation-defined (libstdc++ and libc++ draw differently from the same
// generator), and docs/ranking.md promises that the same profile, as_of and
// seed give the same practice set: with this one they do on any standard
// library, given a generator whose output is fixed (SplitMix64, mt19937_64).
#pragma once

#include <cstdint>
#include <iterator>
#include <utility>

namespace errata {

// A draw in [0, n) from one 64-bit output: the high half of output * n
// (Lemire's multiply-shift, without the rejection step: the bias is below
// n / 2^64, nothing for the few dozen items a shuffle here sees).
inline uint64_t BoundedDraw(uint64_t random, uint64_t n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(random) * n) >> 64);
}

// Shuffles [first, last) with one call of rng() per item after the first,
// from the back: element i swaps with one of [0, i].
template <typename It, typename Rng>
void Shuffle(It first, It last, Rng& rng) {
  const auto n = static_cast<uint64_t>(std::distance(first, last));
  for (uint64_t i = n; i > 1; --i) {
    const uint64_t j = BoundedDraw(static_cast<uint64_t>(rng()), i);
    if (j != i - 1) {
      using std::swap;
      swap(first[static_cast<std::ptrdiff_t>(i - 1)], first[static_cast<std::ptrdiff_t>(j)]);
    }
  }
}

}  // namespace errata
