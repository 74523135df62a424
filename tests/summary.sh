#!/bin/sh
# summary.sh OUTDIR - add up the unit and spec test logs in OUTDIR
# (unit.log: "unit: N passed, N failed"; spec-*.log: "spectest: N passed,
# N failed, N skipped"; wasi.log, http.log and serve.log, when present:
# "wasi: N passed, ...")
# and print the closing line "N passed, N failed[,
# N skipped]". Exits non-zero when a test failed or a log is missing.
set -u

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
OUT=$1
missing=""
logs=""
[ -f "$OUT/unit.log" ] && logs="$OUT/unit.log" || missing="$missing unit.log"
spec=$(ls "$OUT"/spec-*.log 2>/dev/null)
[ -n "$spec" ] && logs="$logs $spec" || missing="$missing spec-*.log"
[ -f "$OUT/wasi.log" ] && logs="$logs $OUT/wasi.log"
[ -f "$OUT/http.log" ] && logs="$logs $OUT/http.log"
[ -f "$OUT/serve.log" ] && logs="$logs $OUT/serve.log"

# shellcheck disable=SC2086
[ -n "$logs" ] && counts=$(awk '
    /^(unit|spectest|wasi|http|serve): [0-9]+ passed, [0-9]+ failed/ {
        seen[FILENAME] = 1
        p += $2; f += $4
        if ($6 != "") s += $6
    }
    END {
        for (i = 1; i < ARGC; i++)
            if (!(ARGV[i] in seen)) bad = bad " " ARGV[i]
        printf "%d %d %d%s\n", p, f, s, bad
    }' $logs) || counts="0 0 0"
[ -n "$logs" ] || counts="0 0 0"

set -- $counts
passed=$1 failed=$2 skipped=$3
shift 3
for f in "$@"; do
    echo "summary: no result line in $f (the run did not finish)"
    failed=$((failed + 1))
done
for m in $missing; do
    echo "summary: $OUT/$m missing"
    failed=$((failed + 1))
done
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
