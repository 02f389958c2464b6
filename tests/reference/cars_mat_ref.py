"""Reference for the Cars196 tests (tests/test_data_cars.cpp): a cars_annos.mat as scipy.io.loadmat reads it, an
independent MAT-file reader, so that the file our writer makes (and the reader's tests rely on) is checked against
something other than libmatio.

usage:
  cars_mat_ref.py FILE.mat OUT.json
      OUT.json: {"class_names": [...], "annotations": [{"relative_im_path": ..., "bbox_x1": [value, "dtype"], ...}]}
  cars_mat_ref.py --write FILE.mat PATH CLASS TEST [PATH CLASS TEST ...]
      writes a cars_annos.mat with scipy.io.savemat (which stores text as UTF-8, MATLAB as UTF-16), one record per
      triple (box 1 1 8 8), a class name per class ("Škoda <n>": not ASCII either)
"""
import json
import sys

import numpy
import scipy.io


def write(path, triples):
    fields = ("relative_im_path", "bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "test")
    records = numpy.zeros((1, len(triples)), dtype=[(f, "O") for f in fields])
    for i, (image, cls, test) in enumerate(triples):
        number = lambda v: numpy.array([[v]], dtype=numpy.uint8)
        records[0, i] = (image, number(1), number(1), number(8), number(8), number(int(cls)), number(int(test)))
    classes = max(int(cls) for _, cls, _ in triples)
    names = numpy.empty((1, classes), dtype=object)
    for c in range(classes):
        names[0, c] = "\u0160koda %d" % (c + 1)
    scipy.io.savemat(path, {"annotations": records, "class_names": names})


def main():
    if sys.argv[1] == "--write":
        args = sys.argv[3:]
        write(sys.argv[2], [tuple(args[i:i + 3]) for i in range(0, len(args), 3)])
        return
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
