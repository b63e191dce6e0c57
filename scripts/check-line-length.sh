#!/usr/bin/env bash
# Fails on Swift lines longer than the checked-in .swift-format's lineLength, in characters: swift-format wraps
# code, but it leaves comments and string literals as they are, so a re-edited comment could grow past the limit.
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
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if len(line) > limit:
                long.append(f"{path}:{number}: {len(line)} characters")
if long:
    print("\n".join(long), file=sys.stderr)
    print(f"{len(long)} lines above {limit} characters (above); wrap them", file=sys.stderr)
    sys.exit(1)
PYTHON
