#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Copy the C example of docs/guest-api.md into a source file, so the build compiles it.

usage: extract_example.py DOC NAME OUTPUT
The example is the ```c block right after the line <!-- example: NAME --> and before
<!-- example end -->; exactly one must exist.
"""
import re
import sys


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    doc_path, name, out_path = argv
    with open(doc_path, encoding="utf-8") as f:
        doc = f.read()
    pat = re.compile(r"^<!-- example: %s -->\n```c\n(.*?)^```\n<!-- example end -->$"
                     % re.escape(name), re.M | re.S)
    found = pat.findall(doc)
    if len(found) != 1:
        print("extract_example: %s has %d examples named %s (want exactly 1)"
              % (doc_path, len(found), name), file=sys.stderr)
        return 1
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("/* Generated from %s by extract_example.py: edit the doc, not this. */\n"
                % doc_path.split("/")[-1])
        f.write(found[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
