#!/usr/bin/python3
"""Sizes and file list of an exported image (docker save / oci-archive).

  image_report.py ARCHIVE [--limit BYTES] [--json FILE] [--files]

Reads the archive the way a registry and a node see the image:
  files         sum of the regular files' sizes in every layer (what the
                image holds, uncompressed)
  layers        sum of the uncompressed layer tars (tar headers included)
  pull (gzip)   sum of the gzip-compressed layers (what a cold node pulls;
                layers stored uncompressed are gzipped here, level 6)
Prints the figures and, with --files, every path (type, mode, owner, size,
link target). Exits 1 when the files exceed --limit.
"""

import argparse
import gzip
import io
import json
import sys
import tarfile


def blobs(archive):
    """The layer blobs of the image in the archive, in order (bytes)."""
    with tarfile.open(archive) as outer:
        names = set(outer.getnames())

        def read(name):
            return outer.extractfile(name).read()

        if "index.json" in names:  # OCI layout (oci-archive, newer docker save)
            index = json.loads(read("index.json"))
            desc = index["manifests"][0]
            man = json.loads(read("blobs/" + desc["digest"].replace(":", "/")))
            if "manifests" in man:  # an index inside the index
                man = json.loads(read("blobs/" + man["manifests"][0]["digest"].replace(":", "/")))
            return [read("blobs/" + layer["digest"].replace(":", "/")) for layer in man["layers"]]
        man = json.loads(read("manifest.json"))  # docker-archive
        return [read(p) for p in man[0]["Layers"]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("archive")
    ap.add_argument("--limit", type=int, default=0, help="fail when the files exceed this many bytes")
    ap.add_argument("--json", help="write the figures there")
    ap.add_argument("--files", action="store_true", help="list every path")
    a = ap.parse_args()

    files_bytes = layer_bytes = gzip_bytes = 0
    entries = []
    for blob in blobs(a.archive):
        if blob[:2] == b"\x1f\x8b":
            gzip_bytes += len(blob)
            raw = gzip.decompress(blob)
        else:
            raw = blob
            gzip_bytes += len(gzip.compress(raw, compresslevel=6))
        layer_bytes += len(raw)
        with tarfile.open(fileobj=io.BytesIO(raw)) as t:
            for m in t.getmembers():
                if m.isfile():
                    files_bytes += m.size
                entries.append(m)

    if a.files:
        print("files in the image:")
        for m in sorted(entries, key=lambda m: m.name):
            kind = "d" if m.isdir() else "l" if m.issym() else "h" if m.islnk() else "-"
            link = " -> " + m.linkname if (m.issym() or m.islnk()) else ""
            print("  %s %04o %5d:%-5d %9d  /%s%s" % (kind, m.mode & 0o7777, m.uid, m.gid,
                                                     m.size if m.isfile() else 0,
                                                     m.name.lstrip("./"), link))
    mb = lambda b: "%.1f MB" % (b / 1e6)  # noqa: E731
    print("image files       %s (%d bytes, %d paths)" % (mb(files_bytes), files_bytes, len(entries)))
    print("layers            %s (%d bytes, uncompressed tars)" % (mb(layer_bytes), layer_bytes))
    print("pull size (gzip)  %s (%d bytes)" % (mb(gzip_bytes), gzip_bytes))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"files_bytes": files_bytes, "layer_bytes": layer_bytes, "gzip_bytes": gzip_bytes}, f)
    if a.limit and files_bytes > a.limit:
        print("FAILED: the image holds %s, over the limit of %s" % (mb(files_bytes), mb(a.limit)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
