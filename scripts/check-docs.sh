#!/usr/bin/env bash
# Builds the DocC catalogs with --warnings-as-errors: a broken symbol link or an undocumented parameter fails CI.
set -euo pipefail
swift package dump-symbol-graph --minimum-access-level public > /dev/null
graphs=$(swift build --show-bin-path)/../symbolgraph
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
catalogs=(
    "Supervisor:Sources/Supervisor/Documentation.docc"
    "SRTAdapter:Adapters/SRTAdapter/Documentation.docc"
    "NIOAdapter:Adapters/NIOAdapter/Documentation.docc"
    "NetworkMonitor:Adapters/NetworkMonitor/Documentation.docc"
)
# Every catalog in the tree is listed above: a new one cannot go unchecked.
found=$(find Sources Adapters -name "*.docc" -type d | sort)
listed=$(printf "%s\n" "${catalogs[@]#*:}" | sort)
if [ "$found" != "$listed" ]; then
    echo "check-docs.sh lists other catalogs than the tree has:" >&2
    diff <(echo "$listed") <(echo "$found") >&2 || true
    exit 1
fi
for entry in "${catalogs[@]}"; do
    module=${entry%%:*}
    catalog=${entry#*:}
    mkdir -p "$work/$module"
    cp "$graphs/$module.symbols.json" "$work/$module/"
    docc convert "$catalog" --fallback-display-name "$module" --fallback-bundle-identifier "$module" \
        --additional-symbol-graph-dir "$work/$module" --output-path "$work/$module.doccarchive" --warnings-as-errors
    echo "DocC: $module builds without warnings"
done
