#!/usr/bin/env python3
"""Validate a notebook playbook wrote against nbformat's own schema.

Usage: validate_notebook.py NOTEBOOK.ipynb [EVIDENCE.json]

Reads the notebook with nbformat (nbformat.read, as_version=4) and validates
it (nbformat.validate, which raises on the first error); checks it is
nbformat 4.5 (cell ids) and that writing it again with nbformat gives the
same bytes (keys sorted, one-space indent, as Jupyter writes). With
EVIDENCE.json, the run record the notebook was made from, it also checks
that the notebook has one code cell per cell of the run, and, when the run
had plots, that as many outputs are image/svg+xml.

Prints a summary, one JSON object on the last line of standard output:

    {"nbformat": "4.5", "cells": 17, "code": 8, "markdown": 9,
     "outputs": {"display_data": 30, "stream": 2}, "mime": {"text/html": 20, ...},
     "svg": 5, "png": 0, "errors": 0, "plots": 5, "rewrite_same": true}

Exits 1 with the reason on standard error when a check fails.
"""

import collections
import json
import sys

import nbformat


def fail(msg):
    print("validate_notebook: " + msg, file=sys.stderr)
    sys.exit(1)


def main(argv):
    if len(argv) not in (2, 3):
        fail("usage: validate_notebook.py NOTEBOOK.ipynb [EVIDENCE.json]")
    path = argv[1]
    with open(path, encoding="utf-8") as f:
        raw = f.read()
    nb = nbformat.reads(raw, as_version=4)
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as e:
        fail("%s is not a valid notebook: %s" % (path, e))
    if (nb.nbformat, nb.nbformat_minor) != (4, 5):
        fail("%s is nbformat %d.%d, want 4.5" % (path, nb.nbformat, nb.nbformat_minor))

    outputs, mime = collections.Counter(), collections.Counter()
    kinds = collections.Counter(c.cell_type for c in nb.cells)
    for c in nb.cells:
        for o in c.get("outputs", []):
            outputs[o.output_type] += 1
            for m in o.get("data", {}):
                mime[m] += 1
    summary = {
        "nbformat": "%d.%d" % (nb.nbformat, nb.nbformat_minor),
        "cells": len(nb.cells),
        "code": kinds["code"],
        "markdown": kinds["markdown"],
        "outputs": dict(sorted(outputs.items())),
        "mime": dict(sorted(mime.items())),
        "svg": mime["image/svg+xml"],
        "png": mime["image/png"],
        "errors": outputs["error"],
        "rewrite_same": nbformat.writes(nb) + "\n" == raw,
        "kernel": nb.metadata.get("kernelspec", {}).get("name"),
    }

    if not summary["rewrite_same"]:
        fail("%s is not as nbformat writes it (keys sorted, one-space indent)" % path)

    if len(argv) == 3:
        with open(argv[2], encoding="utf-8") as f:
            run = json.load(f)
        cells = run.get("cells") or []
        plots = sum(1 for c in cells for o in (c.get("outputs") or []) if o.get("kind") == "plot")
        summary["plots"] = plots
        if kinds["code"] != len(cells):
            fail("%d code cells, the run had %d cells" % (kinds["code"], len(cells)))
        if plots > 0 and summary["svg"] == 0:
            fail("the run had %d plots, no output is image/svg+xml" % plots)
        if summary["svg"] != plots:
            fail("the run had %d plots, %d outputs are image/svg+xml" % (plots, summary["svg"]))

    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv)
