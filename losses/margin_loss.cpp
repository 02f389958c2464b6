#include "losses/margin_loss.h"

#include <cmath>
#include <map>

#include "engine/dispatch.h"

namespace sgml {

namespace {

Tensor int32_tensor(const std::vector<int32_t>& values, Device device) {
  Tensor t = Tensor::empty({static_cast<int64_t>(values.size())}, Device::cpu(), DType::I32);
  std::copy(values.begin(), values.end(), static_cast<int32_t*>(t.raw_data()));
  return device.is_cuda() ? t.to(device) : t;  // explicit host-to-device copy
}

std::vector<int32_t> int32_values(const Tensor& t) {
  const Tensor host = t.is_cuda() ? t.to(Device::cpu()) : t;  // explicit device-to-host copy
  const int32_t* p = static_cast<const int32_t*>(host.raw_data());
  return std::vector<int32_t>(p, p + host.numel());
}

// Dense int32 class ids (any int64 label, no truncation).
std::vector<int32_t> dense_ids(const std::vector<int64_t>& labels) {
  std::map<int64_t, int32_t> dense;
  std::vector<int32_t> ids;
  for (int64_t l : labels) ids.push_back(dense.emplace(l, static_cast<int32_t>(dense.size())).first->second);
  return ids;
}

void check_margin_arguments(const char* op, const Tensor& S, const std::vector<int64_t>& labels, const Tensor& beta,
                            const MarginLossConfig& config) {
  check_defined(S, op);
  SGML_CHECK(S.ndim() == 2 && S.dim(0) == S.dim(1), op, " needs S (B, B), got ", shape_str(S.shape()));
  const int64_t n = S.dim(0);
  SGML_CHECK(static_cast<int64_t>(labels.size()) == n, op, ": ", labels.size(), " labels for a batch of ", n);
  SGML_CHECK(n <= 4096, op, ": a batch of at most 4096 images, got ", n);
  check_defined(beta, "margin loss beta");
  SGML_CHECK(beta.ndim() == 1 && beta.dim(0) == n, op, " needs beta (B) = (", n, "), got ", shape_str(beta.shape()));
  check_one_device(op, {{"S", S.device()}, {"beta", beta.device()}});
  SGML_CHECK(std::isfinite(config.margin) && config.margin >= 0.0f, op, ": the margin must be finite and >= 0, got ",
             config.margin);
  SGML_CHECK(config.dim >= 2, op, ": the embedding dimension of the distance weights must be >= 2, got ",
             config.dim);
}

}  // namespace

const char* negative_sampler_name(NegativeSampler s) {
  return s == NegativeSampler::Distance ? "distance" : s == NegativeSampler::DistanceDistinct ? "distance-distinct"
                                                                                              : "nearest";
}

NegativeSampler parse_negative_sampler(const std::string& s) {
  if (s == "distance") return NegativeSampler::Distance;
  if (s == "distance-distinct") return NegativeSampler::DistanceDistinct;
  if (s == "nearest") return NegativeSampler::Nearest;
  SGML_FAIL("unknown --sampler '", s, "': expected distance, distance-distinct or nearest");
}

int64_t margin_triplet_count(const std::vector<int64_t>& labels) {
  std::map<int64_t, int64_t> members;
  for (int64_t l : labels) ++members[l];
  int64_t count = 0;
  for (const auto& [label, m] : members) count += m * (m - 1);
  return count;
}

std::vector<float> margin_uniform_draws(uint64_t seed, int64_t count) {
  std::vector<float> u(static_cast<size_t>(count));
  for (int64_t t = 0; t < count; ++t) {  // splitmix64 of (seed, t): the top 24 bits, exact in a float
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * uint64_t(t + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    u[t] = float(z >> 40) * (1.0f / 16777216.0f);
  }
  return u;
}

Tensor margin_negative_weights(const Tensor& S, const std::vector<int64_t>& labels, const Tensor& beta,
                               const MarginLossConfig& config) {
  OpScope op("margin_negative_weights");
  check_margin_arguments("margin_negative_weights", S, labels, beta, config);
  const int n = static_cast<int>(S.dim(0));
  const Tensor ids = int32_tensor(dense_ids(labels), S.device());
  Tensor W = Tensor::empty(S.shape(), S.device());
  SGML_DISPATCH(S, margin_negative_weights, W.data(), S.data(), static_cast<const int32_t*>(ids.raw_data()),
                beta.data(), n, config.dim, config.margin);
  return W;
}

MarginLossResult margin_loss(const Tensor& S, const std::vector<int64_t>& labels, const Tensor& beta,
                             const MarginLossConfig& config, const std::vector<float>& uniforms, float grad_scale) {
  OpScope op("margin_loss");
  check_margin_arguments("margin_loss", S, labels, beta, config);
  const int n = static_cast<int>(S.dim(0));
  const std::vector<int32_t> id = dense_ids(labels);
  const Tensor ids = int32_tensor(id, S.device());
  const int32_t* device_ids = static_cast<const int32_t*>(ids.raw_data());

  // The triplets, grouped by anchor: each positive of each anchor once, in index order.
  MarginLossResult r;
  std::vector<int32_t> row_start{0}, negatives_of(n, 0);
  for (int i = 0; i < n; ++i) {
    for (int p = 0; p < n; ++p) {
      if (id[p] != id[i]) ++negatives_of[i];
      if (p == i || id[p] != id[i]) continue;
      r.anchors.push_back(i);
      r.positives.push_back(p);
    }
    row_start.push_back(static_cast<int32_t>(r.anchors.size()));
  }
  const int draws = static_cast<int>(r.anchors.size());
  if (draws_uniforms(config.sampler)) {
    SGML_CHECK(static_cast<int64_t>(uniforms.size()) == draws, "margin_loss: ", uniforms.size(),
               " uniform draws for ", draws, " triplets (margin_triplet_count)");
    for (float u : uniforms)
      SGML_CHECK(u >= 0.0f && u < 1.0f, "margin_loss: uniform draws must lie in [0, 1), got ", u);
    Tensor W = Tensor::empty(S.shape(), S.device());
    SGML_DISPATCH(S, margin_negative_weights, W.data(), S.data(), device_ids, beta.data(), n, config.dim,
                  config.margin);
    const Tensor u = Tensor::from_vector(uniforms, {draws}, S.device());
    Tensor chosen = Tensor::empty({draws}, S.device(), DType::I32);
    if (draws > 0 && config.sampler == NegativeSampler::Distance) {
      const Tensor rows = int32_tensor(r.anchors, S.device());
      SGML_DISPATCH(S, margin_sample_negatives, static_cast<int32_t*>(chosen.raw_data()), W.data(),
                    static_cast<const int32_t*>(rows.raw_data()), u.data(), draws, n);
    } else if (draws > 0) {
      const Tensor starts = int32_tensor(row_start, S.device());
      SGML_DISPATCH(S, margin_sample_negatives_distinct, static_cast<int32_t*>(chosen.raw_data()), W.data(),
                    static_cast<const int32_t*>(starts.raw_data()), u.data(), n);
    }
    r.negatives = draws > 0 ? int32_values(chosen) : std::vector<int32_t>();
  } else {
    Tensor order = Tensor::empty(S.shape(), S.device(), DType::I32);
    SGML_DISPATCH(S, margin_nearest_order, static_cast<int32_t*>(order.raw_data()), S.data(), device_ids, n);
    const std::vector<int32_t> o = int32_values(order);
    for (int i = 0; i < n; ++i)
      for (int t = row_start[i]; t < row_start[i + 1]; ++t)
        r.negatives.push_back(negatives_of[i] == 0 ? -1 : o[int64_t(i) * n + (t - row_start[i]) % negatives_of[i]]);
  }

  r.terms = Tensor::empty({4}, S.device());
  r.dS = Tensor::empty(S.shape(), S.device());
  r.dbeta = Tensor::empty({n}, S.device());
  const Tensor starts = int32_tensor(row_start, S.device());
  const Tensor positives = int32_tensor(r.positives, S.device()), negatives = int32_tensor(r.negatives, S.device());
  SGML_DISPATCH(S, margin_loss, r.terms.data(), r.dS.data(), r.dbeta.data(), S.data(),
                static_cast<const int32_t*>(starts.raw_data()), static_cast<const int32_t*>(positives.raw_data()),
                static_cast<const int32_t*>(negatives.raw_data()), beta.data(), n, config.margin, grad_scale);
  return r;
}

}  // namespace sgml
