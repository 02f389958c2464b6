"""NumPy / scikit-learn reference for the retrieval module: rankings, Recall@K, MAP@R, NMI and k-means inertia.

usage: retrieval_ref.py MANIFEST.json
The manifest lists cases {name, kind, params, input, output, scalars}: input and output are .safetensors files
(arrays; floats written as float32, computed in float64), scalars a JSON file of full-precision numbers.

kind "rank": input queries (M, D), gallery (N, D) F32, query_labels (M), gallery_labels (N) I64;
  params k, ks (list), leave_one_out. Rows are L2-normalised in float64 (x / max(|x|, 1e-12)), every gallery item
  is scored by brute force, and each row is sorted by descending score then ascending gallery index
  (np.lexsort), the query itself removed in leave-one-out. Output:
    indices (M, k) I64, scores (M, k)    the first k of that ranking
    similarity (M, N)                    every score (for checks that allow float32 rounding)
    scalars recall (list)                Recall@K per ks entry: any of the first K has the query's label;
                                         K beyond the ranking means all of it
    scalars map_at_r                     mean AP@R, R = items of the query's label in the gallery (minus self in
                                         leave-one-out), AP@R = sum_{i<=R} P@i * rel_i / R, 0 when R = 0
kind "nmi": input labels_true, labels_pred (N) I64. Scalars nmi =
  sklearn.metrics.normalized_mutual_info_score (arithmetic normalisation).
kind "kmeans": input x (N, D) F32, assignment (N) I64 (the engine's clustering), labels (N) I64; params k.
    scalars sklearn_inertia         KMeans(k, n_init=10, random_state=0) inertia: the best of ten seeded runs
    scalars inertia_of_assignment   sum of squared distances of x to the means of the engine's clusters
    nearest_mean (N) I64            each row's nearest such mean (the engine's assignment if it is a Lloyd fixed
                                    point)
    scalars nmi                     normalized_mutual_info_score(labels, assignment)
    scalars sklearn_nmi             normalized_mutual_info_score(labels, the best of sklearn's ten runs)
  With params single_runs = R (optional), also the inertias of R single runs, random_state 0 .. R-1:
    scalars single_run_inertias     KMeans(k, n_init=1, init="k-means++"): one greedy k-means++ seeding, then Lloyd
    scalars random_init_inertias    KMeans(k, n_init=1, init="random"): k rows drawn uniformly, then Lloyd
"""
import json
import os
import sys

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
import safetensors_np  # noqa: E402


def normalise(x):
    x = x.astype(np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def ranking(sim, leave_one_out):
    """Full ranking per row: descending score, ascending index; self removed in leave-one-out."""
    m, n = sim.shape
    rows = []
    for q in range(m):
        order = np.lexsort((np.arange(n), -sim[q]))  # last key is primary
        if leave_one_out:
            order = order[order != q]
        rows.append(order)
    return np.stack(rows) if rows else np.zeros((0, n - int(leave_one_out)), dtype=np.int64)


def recall_at(order, ql, gl, k):
    hits = [np.any(gl[order[q, :k]] == ql[q]) for q in range(len(ql))]
    return float(np.mean(hits)) if hits else 0.0


def map_at_r(order, ql, gl, leave_one_out):
    aps = []
    for q in range(len(ql)):
        r = int(np.sum(gl == ql[q])) - int(leave_one_out)
        if r == 0:
            aps.append(0.0)
            continue
        rel = (gl[order[q, :r]] == ql[q]).astype(np.float64)
        precision = np.cumsum(rel) / np.arange(1, r + 1)
        aps.append(float(np.sum(precision * rel) / r))
    return float(np.mean(aps)) if aps else 0.0


def rank_case(p, inp):
    loo = bool(p["leave_one_out"])
    q = normalise(inp["queries"])
    g = q if loo else normalise(inp["gallery"])
    sim = q @ g.T
    order = ranking(sim, loo)
    ql, gl = inp["query_labels"], inp["gallery_labels"]
    k = int(p["k"])
    top = order[:, :k]
    arrays = {"indices": top.astype(np.int64), "scores": np.take_along_axis(sim, top, axis=1), "similarity": sim}
    scalars = {"recall": [recall_at(order, ql, gl, int(kk)) for kk in p["ks"]],
               "map_at_r": map_at_r(order, ql, gl, loo)}
    return arrays, scalars


def nmi_case(p, inp):
    return {}, {"nmi": float(normalized_mutual_info_score(inp["labels_true"], inp["labels_pred"]))}


def kmeans_case(p, inp):
    x = inp["x"].astype(np.float64)
    a = inp["assignment"]
    k = int(p["k"])
    sk = KMeans(n_clusters=k, n_init=10, random_state=0).fit(inp["x"])
    means = np.stack([x[a == c].mean(axis=0) for c in range(k)])
    d2 = ((x[:, None, :] - means[None, :, :]) ** 2).sum(axis=2)
    arrays = {"nearest_mean": np.argmin(d2, axis=1).astype(np.int64)}
    scalars = {"sklearn_inertia": float(sk.inertia_),
               "inertia_of_assignment": float(d2[np.arange(len(x)), a].sum()),
               "nmi": float(normalized_mutual_info_score(inp["labels"], a)),
               "sklearn_nmi": float(normalized_mutual_info_score(inp["labels"], sk.labels_))}
    for key, init in (("single_run_inertias", "k-means++"), ("random_init_inertias", "random")):
        scalars[key] = [float(KMeans(n_clusters=k, init=init, n_init=1, random_state=s).fit(inp["x"]).inertia_)
                        for s in range(int(p.get("single_runs", 0)))]
    return arrays, scalars


KINDS = {"rank": rank_case, "nmi": nmi_case, "kmeans": kmeans_case}


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    for case in cases:
        inp, _ = safetensors_np.load(case["input"])
        arrays, scalars = KINDS[case["kind"]](case.get("params", {}), inp)
        safetensors_np.save(case["output"], {k: (v.astype(np.float32) if v.dtype == np.float64 else v)
                                             for k, v in arrays.items()})
        with open(case["scalars"], "w") as f:
            json.dump(scalars, f)


if __name__ == "__main__":
    main()
