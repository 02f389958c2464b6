#include "losses/pairs.h"

#include <cstring>

#include "engine/check.h"

namespace sgml {

int64_t PairList::num_positive() const {
  int64_t n = 0;
  for (uint8_t p : positive) n += p != 0;
  return n;
}

void PairList::add(int32_t row, int32_t col, bool is_positive) {
  i.push_back(row);
  j.push_back(col);
  positive.push_back(is_positive ? 1 : 0);
}

Tensor PairList::packed(Device device) const {
  SGML_CHECK(j.size() == i.size() && positive.size() == i.size(), "pair list with ", i.size(), " rows, ", j.size(),
             " columns and ", positive.size(), " labels");
  const int64_t p = size();
  Tensor host = Tensor::empty({3, p}, Device::cpu(), DType::I32);
  int32_t* d = static_cast<int32_t*>(host.raw_data());
  if (p > 0) {
    std::memcpy(d, i.data(), p * sizeof(int32_t));
    std::memcpy(d + p, j.data(), p * sizeof(int32_t));
  }
  for (int64_t k = 0; k < p; ++k) d[2 * p + k] = positive[k] != 0;
  return device.is_cuda() ? host.to(device) : host;
}

void PairList::validate(int64_t n) const {
  SGML_CHECK(j.size() == i.size() && positive.size() == i.size(), "pair list with ", i.size(), " rows, ", j.size(),
             " columns and ", positive.size(), " labels");
  std::vector<uint8_t> seen(static_cast<size_t>(n * n), 0);
  for (int64_t k = 0; k < size(); ++k) {
    SGML_CHECK(i[k] >= 0 && i[k] < n && j[k] >= 0 && j[k] < n, "pair ", k, " (", i[k], ", ", j[k],
               ") outside a batch of ", n);
    SGML_CHECK(i[k] != j[k], "pair ", k, " joins image ", i[k], " with itself");
    uint8_t& s = seen[static_cast<size_t>(i[k]) * n + j[k]];
    SGML_CHECK(!s, "pair (", i[k], ", ", j[k], ") listed twice");
    s = 1;
  }
}

PairList batch_pairs(const std::vector<int64_t>& labels) {
  const int32_t n = static_cast<int32_t>(labels.size());
  PairList pairs;
  const size_t count = static_cast<size_t>(n) * (n > 0 ? n - 1 : 0) / 2;
  pairs.i.reserve(count);
  pairs.j.reserve(count);
  pairs.positive.reserve(count);
  // Row-major upper triangle: the order of torch.triu_indices(n, n, 1).
  for (int32_t a = 0; a < n; ++a)
    for (int32_t b = a + 1; b < n; ++b) pairs.add(a, b, labels[a] == labels[b]);
  return pairs;
}

PairList triplet_pairs(int64_t batch_size) {
  SGML_CHECK(batch_size % 3 == 0, "image-wise sampling needs a batch of triplets (a multiple of 3 images), got ",
             batch_size, " images");
  const int32_t t = static_cast<int32_t>(batch_size / 3);
  PairList pairs;
  for (int32_t k = 0; k < t; ++k) pairs.add(3 * k, 3 * k + 1, true);
  for (int32_t k = 0; k < t; ++k) pairs.add(3 * k, 3 * k + 2, false);
  return pairs;
}

}  // namespace sgml
