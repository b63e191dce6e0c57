#!/usr/bin/env bash
# Fails on Swift comment lines longer than the checked-in .swift-format's lineLength, in characters: swift-format
# wraps code, but leaves comments as they are, so a re-edited comment could grow past the limit unseen. Rows of a
# DocC table (`/// | ...`) and lines of an example in a comment (between ``` fences: quoted output is as the
# program prints it) cannot be wrapped and are left out; so is code, which swift-format owns (a string literal it
# cannot break, such as a test's display name, may run past the limit).
set -euo pipefail
python3 - "$@" <<'PYTHON'
import json, pathlib, sys
limit = json.loads(pathlib.Path(".swift-format").read_text())["lineLength"]
long = []
for root in map(pathlib.Path, sys.argv[1:]):
    files = [root] if root.is_file() else sorted(root.rglob("*.swift"))
    for path in files:
        if ".build" in path.parts or path.suffix != ".swift":
            continue
        fenced = False
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            text = line.lstrip()
            comment = text.startswith("//")
            if comment and text.lstrip("/ ").startswith("```"):
                fenced = not fenced
            # A DocC table row, or a line that is one symbol link (a long signature cannot be broken).
            table = text.startswith("/// |") or (text.startswith("/// ``") and " " not in text[4:].strip())
            if comment and not table and not fenced and len(line) > limit:
                long.append(f"{path}:{number}: {len(line)} characters")
if long:
    print("\n".join(long), file=sys.stderr)
    print(f"{len(long)} lines above {limit} characters (above); wrap them", file=sys.stderr)
    sys.exit(1)
PYTHON
