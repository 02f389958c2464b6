// Seeded random streams for the data pipeline. Every random choice (augmentation of one image, the images of one
// step) draws from its own stream whose seed mixes (run seed, step or epoch, position), so the result depends on
// nothing else: not on the worker count, the thread that does the work, or what was drawn before.
// SplitMix64 (Steele et al. 2014) is used rather than <random>'s distributions, whose algorithms the C++ standard
// leaves to each library.
#pragma once
#include <cstdint>

namespace sgml {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// A 64-bit mix of several values: the seed of one stream.
inline uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c) { return splitmix64(splitmix64(splitmix64(a) ^ b) ^ c); }

class RandomStream {
 public:
  explicit RandomStream(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ull;
    return splitmix64(state_);
  }
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [0, n), n >= 1 (multiply-shift; the bias is below 2^-32 for n < 2^32).
  int64_t below(int64_t n) { return int64_t((unsigned __int128)(next()) * uint64_t(n) >> 64); }

 private:
  uint64_t state_;
};

}  // namespace sgml
