"""Reference for the feature export of `sgml eval --export` (tests/test_cli_workflow.cpp): the exported files read
as a user reads them (numpy.load, the labels file's first column), ranked and scored by the NumPy reference of the
retrieval tests, so that the figures sgml eval printed can be recomputed from what it wrote.

usage: exported_metrics_ref.py QUERIES.npy GALLERY.npy|- K[,K...] OUT.json
  GALLERY.npy "-": leave-one-out among the queries. Each FILE.npy has FILE.npy.labels.txt beside it, one line per
  row: "label item path". OUT.json: {"rows": M, "recall": {"K": value}, "map_at_r": value}.
"""
import json
import sys

import numpy as np

from retrieval_ref import map_at_r, normalise, ranking, recall_at


def labels_of(npy_path):
    with open(npy_path + ".labels.txt", encoding="utf-8", errors="surrogateescape") as f:
        return np.array([int(line.split(" ", 1)[0]) for line in f if line.strip()], dtype=np.int64)


def main():
    queries_path, gallery_path, ks, out_path = sys.argv[1:5]
    queries = np.load(queries_path)
    query_labels = labels_of(queries_path)
    leave_one_out = gallery_path == "-"
    gallery = queries if leave_one_out else np.load(gallery_path)
    gallery_labels = query_labels if leave_one_out else labels_of(gallery_path)
    assert queries.ndim == 2 and len(query_labels) == queries.shape[0], "one label per query row"
    assert gallery.ndim == 2 and len(gallery_labels) == gallery.shape[0], "one label per gallery row"
    order = ranking(normalise(queries) @ normalise(gallery).T, leave_one_out)
    recall = {k: recall_at(order, query_labels, gallery_labels, int(k)) for k in ks.split(",")}
    result = {"rows": int(queries.shape[0]), "recall": recall,
              "map_at_r": map_at_r(order, query_labels, gallery_labels, leave_one_out)}
    with open(out_path, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
