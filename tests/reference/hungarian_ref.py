"""Reference for the linear sum assignment (retrieval/hungarian.h): scipy.optimize.linear_sum_assignment.

usage: hungarian_ref.py MANIFEST.json OUTPUT.json
The manifest lists cases {name, rows, cols, cost} (cost row-major, rows x cols); the output maps each name to
{rows, cols, cost}: scipy's matched rows and columns (rows increasing) and the total cost, a float64 sum.
"""
import json
import sys

import numpy as np
from scipy.optimize import linear_sum_assignment


def main():
    with open(sys.argv[1]) as fh:
        manifest = json.load(fh)
    out = {}
    for case in manifest:
        cost = np.array(case["cost"], dtype=np.float64).reshape(case["rows"], case["cols"])
        r, c = linear_sum_assignment(cost)
        out[case["name"]] = {"rows": r.tolist(), "cols": c.tolist(), "cost": float(cost[r, c].sum())}
    with open(sys.argv[2], "w") as fh:
        json.dump(out, fh)


if __name__ == "__main__":
    main()
