#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Keep docs/protocol.md and protocol/include/viova/protocol.h in step.

Three views of the wire format are compared:
  * the compiled layout, printed by dump_layout (sizeof/offsetof of every field, value of every
    constant, from the tables in protocol/codec_fields.c);
  * the header itself: every `struct viova_* {` and every object-like `#define VIOVA_*`;
  * the spec: struct tables and constant tables in docs/protocol.md.

Spec table formats (strict; anything else in the document is prose):
  a struct:   a line  `struct viova_x` — 40 bytes   followed by a table whose rows are
              | <offset> | <size> | `<type>` | `<field>` | meaning |
  a constant: a table row  | `VIOVA_NAME` | <value> | ... |   (decimal, 0x hex, or negative)

Any difference (a struct, field, offset, size, type or constant missing on one side or with
another value) is printed and the exit status is 1.

usage: check_spec.py DUMP_LAYOUT_EXE DOC HEADER            check, exit 0/1
       check_spec.py --self-test DUMP_LAYOUT_EXE DOC HEADER  prove each kind of drift is caught
"""
import re
import subprocess
import sys

STRUCT_LINE = re.compile(r"^`struct (viova_\w+)` — (\d+) bytes")
FIELD_ROW = re.compile(r"^\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*`([^`]+)`\s*\|\s*`(\w+)`\s*\|")
CONST_ROW = re.compile(r"^\|\s*`(VIOVA_[A-Z0-9_]+)`\s*\|\s*(-?(?:0x[0-9a-fA-F]+|\d+))\s*\|")
HDR_STRUCT = re.compile(r"^struct (viova_\w+) \{", re.M)
HDR_DEFINE = re.compile(r"^#define (VIOVA_[A-Z0-9_]+)(?=[ \t]|$)", re.M)
ARRAY_TYPE = re.compile(r"^(\w+)\[(\d+)\]$")
SCALAR_SIZE = {"u16": 2, "u32": 4, "s32": 4, "u64": 8}


def parse_dump(text):
    structs, fields, consts = {}, {}, {}
    for line in text.splitlines():
        part = line.split()
        if not part:
            continue
        if part[0] == "struct":
            structs[part[1]] = int(part[2])
        elif part[0] == "field":
            fields.setdefault(part[1], []).append((part[2], part[3], int(part[4]), int(part[5])))
        elif part[0] == "const":
            consts[part[1]] = int(part[2])
        else:
            raise ValueError("unexpected dump_layout line: %r" % line)
    return structs, fields, consts


def parse_header(text):
    structs = set(HDR_STRUCT.findall(text))
    defines = {n for n in HDR_DEFINE.findall(text) if not n.endswith("_H")}
    return structs, defines


def parse_doc(text, errors):
    structs, fields, consts = {}, {}, {}
    current = None
    in_table = False
    for num, line in enumerate(text.splitlines(), 1):
        m = STRUCT_LINE.match(line)
        if m:
            name = m.group(1)
            if name in structs:
                errors.append("doc line %d: struct %s is specified twice" % (num, name))
            structs[name] = int(m.group(2))
            fields[name] = []
            current, in_table = name, False
            continue
        if current:
            if line.startswith("|"):
                in_table = True
                f = FIELD_ROW.match(line)
                if f:
                    off, size, typ, fname = int(f.group(1)), int(f.group(2)), f.group(3), f.group(4)
                    fields[current].append((fname, typ, off, size, num))
                continue
            if in_table:  # the first non-table line after the table ends the struct
                current, in_table = None, False
        c = CONST_ROW.match(line)
        if c:
            name, value = c.group(1), int(c.group(2), 0)
            if name in consts and consts[name] != value:
                errors.append("doc line %d: %s = %d here but %d earlier" % (num, name, value, consts[name]))
            consts[name] = value
    return structs, fields, consts


def normalise_doc_type(typ, size):
    """`u64[2]` -> ("u64[]", expected size 16); scalars and struct names as they are."""
    m = ARRAY_TYPE.match(typ)
    if m:
        return m.group(1) + "[]", SCALAR_SIZE.get(m.group(1), 0) * int(m.group(2))
    return typ, SCALAR_SIZE.get(typ, size)


def compare(dump_text, doc_text, header_text):
    errors = []
    d_structs, d_fields, d_consts = parse_dump(dump_text)
    h_structs, h_defines = parse_header(header_text)
    s_structs, s_fields, s_consts = parse_doc(doc_text, errors)

    for name in sorted(h_structs - set(d_structs)):
        errors.append("struct %s is in the header but not in the layout tables "
                      "(add it to protocol/codec_fields.c)" % name)
    for name in sorted(set(d_structs) - h_structs):
        errors.append("struct %s is in the layout tables but not in the header" % name)
    for name in sorted(set(d_structs) - set(s_structs)):
        errors.append("struct %s (%d bytes) is not specified in the doc" % (name, d_structs[name]))
    for name in sorted(set(s_structs) - set(d_structs)):
        errors.append("doc specifies struct %s, which the header does not define" % name)

    for name in sorted(set(d_structs) & set(s_structs)):
        if d_structs[name] != s_structs[name]:
            errors.append("struct %s: %d bytes in the header, %d in the doc"
                          % (name, d_structs[name], s_structs[name]))
        want = d_fields.get(name, [])
        have = s_fields.get(name, [])
        want_names = [f[0] for f in want]
        have_names = [f[0] for f in have]
        if want_names != have_names:
            errors.append("struct %s: fields in the header %s, in the doc %s"
                          % (name, want_names, have_names))
        have_by_name = {f[0]: f for f in have}
        for fname, typ, off, size in want:
            if fname not in have_by_name:
                continue
            _, dtyp, doff, dsize, line = have_by_name[fname]
            ntyp, tsize = normalise_doc_type(dtyp, dsize)
            if doff != off:
                errors.append("doc line %d: %s.%s at offset %d, the header has %d"
                              % (line, name, fname, doff, off))
            if dsize != size or tsize != dsize:
                errors.append("doc line %d: %s.%s is %d bytes (type %s), the header has %d"
                              % (line, name, fname, dsize, dtyp, size))
            if ntyp != typ:
                errors.append("doc line %d: %s.%s has type %s, the header has %s"
                              % (line, name, fname, dtyp, typ))

    for name in sorted(h_defines - set(d_consts)):
        errors.append("#define %s is in the header but not in the constant table "
                      "(add it to protocol/codec_fields.c)" % name)
    for name in sorted(set(d_consts) - h_defines):
        errors.append("%s is in the constant table but not #defined in the header" % name)
    for name in sorted(set(d_consts) - set(s_consts)):
        errors.append("constant %s = %d is not in any doc table" % (name, d_consts[name]))
    for name in sorted(set(s_consts) - set(d_consts)):
        errors.append("doc lists constant %s, which the header does not define" % name)
    for name in sorted(set(d_consts) & set(s_consts)):
        if d_consts[name] != s_consts[name]:
            errors.append("constant %s: %d in the header, %d in the doc"
                          % (name, d_consts[name], s_consts[name]))
    return errors


def load(argv):
    dump = subprocess.run([argv[0]], check=True, capture_output=True, text=True).stdout
    with open(argv[1], encoding="utf-8") as f:
        doc = f.read()
    with open(argv[2], encoding="utf-8") as f:
        header = f.read()
    return dump, doc, header


def sub_once(pattern, repl, text):
    new, n = re.subn(pattern, repl, text, count=1, flags=re.M)
    if n != 1:
        raise AssertionError("self-test mutation %r did not apply" % pattern)
    return new


def self_test(dump, doc, header):
    """Each mutation of one side must be reported; the unmodified inputs must pass."""
    base = compare(dump, doc, header)
    if base:
        print("check_spec self-test: the real inputs already differ:")
        for e in base:
            print("  " + e)
        return 1
    mutations = [
        ("doc: a field offset",
         lambda: (dump, sub_once(r"^(\| )32( \| 8 \| `u64` \| `iova` \|)", r"\g<1>36\2", doc), header)),
        ("doc: a field row removed",
         lambda: (dump, sub_once(r"^\| 28 \| 4 \| `u32` \| `pad0` \|.*\n", "", doc), header)),
        ("doc: a field type",
         lambda: (dump, sub_once(r"^(\| 32 \| 4 \| )`s32`( \| `priority` \|)", r"\1`u32`\2", doc), header)),
        ("doc: a struct size",
         lambda: (dump, sub_once(r"^(`struct viova_cmd_submit` — )56", r"\g<1>64", doc), header)),
        ("doc: a struct missing",
         lambda: (dump, sub_once(r"^`struct viova_resp_hdr` — 16 bytes", "struct gone", doc), header)),
        ("doc: a constant value",
         lambda: (dump, sub_once(r"^(\| `VIOVA_CMD_SET_IOVA` \| )11", r"\g<1>12", doc), header)),
        ("doc: a constant missing",
         lambda: (dump, sub_once(r"^\| `VIOVA_CLONE_ALL` \|.*\n", "", doc), header)),
        ("header: a field moved (dump offset)",
         lambda: (sub_once(r"^(field viova_cmd_set_iova iova u64 )32", r"\g<1>40", dump), doc, header)),
        ("header: a field added (dump)",
         lambda: (dump + "field viova_cmd_gem_close extra u32 32 4\n", doc, header)),
        ("header: a constant value (dump)",
         lambda: (sub_once(r"^(const VIOVA_CAPSET_ID )30", r"\g<1>31", dump), doc, header)),
        ("header: a new #define",
         lambda: (dump, doc, header + "\n#define VIOVA_NEW_THING 5\n")),
        ("header: a new struct",
         lambda: (dump, doc, header + "\nstruct viova_new_thing {\n\tuint64_t x;\n};\n")),
    ]
    failed = 0
    for what, make in mutations:
        errs = compare(*make())
        if errs:
            print("check_spec self-test: %-38s caught: %s" % (what, errs[0]))
        else:
            print("check_spec self-test: %-38s NOT CAUGHT" % what)
            failed += 1
    return 1 if failed else 0


def main(argv):
    if len(argv) == 4 and argv[0] == "--self-test":
        return self_test(*load(argv[1:]))
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    errors = compare(*load(argv))
    for e in errors:
        print("check_spec: " + e)
    if errors:
        print("check_spec: %d difference(s) between docs/protocol.md and viova/protocol.h" % len(errors))
        return 1
    d_structs, d_fields, d_consts = parse_dump(load(argv)[0])
    print("check_spec: %d structs, %d fields, %d constants match"
          % (len(d_structs), sum(len(v) for v in d_fields.values()), len(d_consts)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
