"""Reference for the Cars196 tests (tests/test_data_cars.cpp): a cars_annos.mat as scipy.io.loadmat reads it, an
independent MAT-file reader, so that the file our writer makes (and the reader's tests rely on) is checked against
something other than libmatio.

usage:
  cars_mat_ref.py FILE.mat OUT.json
      OUT.json: {"class_names": [...], "annotations": [{"relative_im_path": ..., "bbox_x1": [value, "dtype"], ...}]}
"""
import json
import sys

import scipy.io


def main():
    mat = scipy.io.loadmat(sys.argv[1])
    names = [str(cell[0]) for cell in mat["class_names"][0]]
    annotations = []
    for record in mat["annotations"][0]:
        entry = {"relative_im_path": str(record["relative_im_path"][0])}
        for field in ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "test"):
            value = record[field]
            entry[field] = [int(value[0][0]), str(value.dtype), list(value.shape)]
        annotations.append(entry)
    with open(sys.argv[2], "w") as out:
        json.dump({"class_names": names, "annotations": annotations,
                   "annotations_shape": list(mat["annotations"].shape),
                   "class_names_shape": list(mat["class_names"].shape)}, out)


if __name__ == "__main__":
    main()
