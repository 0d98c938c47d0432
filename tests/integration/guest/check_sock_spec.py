#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Keep the "Socket transport" section of docs/protocol.md and viova/socket.h in step.

Three views are compared:
  * the compiled layout, printed by sock_layout (sizeof/offsetof of every field, value of every
    constant);
  * the header: every `struct viova_sock_* {` and every `#define VIOVA_SOCK_*` (so a struct or
    constant added to the header but not to sock_layout.c is reported too);
  * the spec section, whose tables use formats the protocol_spec checker ignores on purpose
    (its own tables are checked against protocol.h only):
      a struct:   a line  Frame `struct viova_sock_x` — 48 bytes   then a table with rows
                  | <offset> | <size> | `<type>` | `<field>` | meaning |
      a constant: a table row  | <value> | `VIOVA_SOCK_NAME` | meaning |

usage: check_sock_spec.py SOCK_LAYOUT_EXE DOC HEADER            check, exit 0/1
       check_sock_spec.py --self-test SOCK_LAYOUT_EXE DOC HEADER  each kind of drift is caught
"""
import re
import subprocess
import sys

SECTION = re.compile(r"^## Socket transport\b.*?(?=^## |\Z)", re.M | re.S)
STRUCT_LINE = re.compile(r"^Frame `struct (viova_sock_\w+)` — (\d+) bytes")
FIELD_ROW = re.compile(r"^\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*`([^`]+)`\s*\|\s*`(\w+)`\s*\|")
CONST_ROW = re.compile(r"^\|\s*(-?(?:0x[0-9a-fA-F]+|\d+))\s*\|\s*`(VIOVA_SOCK_[A-Z0-9_]+)`\s*\|")
HDR_STRUCT = re.compile(r"^struct (viova_sock_\w+) \{", re.M)
HDR_DEFINE = re.compile(r"^#define (VIOVA_SOCK_[A-Z0-9_]+)(?=[ \t]|$)", re.M)


def parse_dump(text):
    structs, fields, consts = {}, {}, {}
    for line in text.splitlines():
        p = line.split()
        if p[0] == "struct":
            structs[p[1]] = int(p[2])
        elif p[0] == "field":
            fields.setdefault(p[1], []).append((p[2], p[3], int(p[4]), int(p[5])))
        elif p[0] == "const":
            consts[p[1]] = int(p[2])
    return structs, fields, consts


def parse_doc(doc):
    m = SECTION.search(doc)
    if not m:
        return None
    structs, fields, consts = {}, {}, {}
    current = None
    for line in m.group(0).splitlines():
        s = STRUCT_LINE.match(line)
        if s:
            current = s.group(1)
            structs[current] = int(s.group(2))
            fields[current] = []
            continue
        f = FIELD_ROW.match(line)
        if f and current:
            fields[current].append((f.group(4), f.group(3), int(f.group(1)), int(f.group(2))))
            continue
        if current and not line.startswith("|"):
            if fields[current]:
                current = None
        c = CONST_ROW.match(line)
        if c:
            consts[c.group(2)] = int(c.group(1), 0)
    return structs, fields, consts


def compare(dump, doc, header):
    errors = []
    d_structs, d_fields, d_consts = parse_dump(dump)
    parsed = parse_doc(doc)
    if parsed is None:
        return ["docs/protocol.md has no '## Socket transport' section"]
    s_structs, s_fields, s_consts = parsed
    h_structs = set(HDR_STRUCT.findall(header))
    h_defines = set(HDR_DEFINE.findall(header))
    for name in sorted(h_structs ^ set(d_structs)):
        errors.append("struct %s: in the header and sock_layout.c differently" % name)
    for name in sorted(h_defines ^ set(d_consts)):
        errors.append("constant %s: in the header and sock_layout.c differently" % name)
    for name in sorted(set(d_structs) | set(s_structs)):
        if name not in s_structs:
            errors.append("struct %s is not specified in the socket section" % name)
            continue
        if name not in d_structs:
            errors.append("the socket section specifies struct %s, which the header lacks" % name)
            continue
        if d_structs[name] != s_structs[name]:
            errors.append("struct %s: %d bytes in the header, %d in the doc"
                          % (name, d_structs[name], s_structs[name]))
        want = d_fields.get(name, [])
        have = s_fields.get(name, [])
        if want != have:
            errors.append("struct %s: header fields %s, doc fields %s" % (name, want, have))
    for name in sorted(set(d_consts) | set(s_consts)):
        if d_consts.get(name) != s_consts.get(name):
            errors.append("constant %s: %s in the header, %s in the doc"
                          % (name, d_consts.get(name), s_consts.get(name)))
    return errors


def load(argv):
    dump = subprocess.run([argv[0]], check=True, capture_output=True, text=True).stdout
    with open(argv[1], encoding="utf-8") as f:
        doc = f.read()
    with open(argv[2], encoding="utf-8") as f:
        header = f.read()
    return dump, doc, header


def self_test(dump, doc, header):
    if compare(dump, doc, header):
        print("check_sock_spec self-test: the real inputs already differ")
        return 1
    muts = [
        ("doc field offset", lambda: (dump, re.sub(r"^\| 24 \| 8 \| `u64` \| `area_size` \|",
                                                   "| 28 | 8 | `u64` | `area_size` |", doc,
                                                   flags=re.M), header)),
        ("doc struct size", lambda: (dump, doc.replace("`struct viova_sock_bye` — 152",
                                                        "`struct viova_sock_bye` — 160"), header)),
        ("doc constant", lambda: (dump, re.sub(r"^\| 3 \| `VIOVA_SOCK_BATCH`",
                                               "| 4 | `VIOVA_SOCK_BATCH`", doc, flags=re.M),
                                  header)),
        ("header new define", lambda: (dump, doc, header + "\n#define VIOVA_SOCK_NEW 9\n")),
        ("dump moved field", lambda: (dump.replace("field viova_sock_doorbell waiters u32 4 4",
                                                   "field viova_sock_doorbell waiters u32 8 4"),
                                      doc, header)),
    ]
    failed = 0
    for what, make in muts:
        d, s, h = make()
        if (d, s, h) == (dump, doc, header):
            print("check_sock_spec self-test: mutation %r did not apply" % what)
            failed += 1
        elif not compare(d, s, h):
            print("check_sock_spec self-test: %s NOT CAUGHT" % what)
            failed += 1
    return 1 if failed else 0


def main(argv):
    if argv and argv[0] == "--self-test":
        return self_test(*load(argv[1:]))
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    errors = compare(*load(argv))
    for e in errors:
        print("check_sock_spec: " + e)
    if not errors:
        print("check_sock_spec: the socket section matches viova/socket.h")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
