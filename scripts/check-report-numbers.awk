#!/usr/bin/awk -f
# Checks a study report: in Tables 1-4, every cell after the first of each row of ours (rows
# whose label does not say "published") must be a number (optionally with a range in
# brackets, a unit or a marker). Prints each failing cell; exits 1 if any, or if a table is
# missing or has no rows.
function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
/^## / || /^### / {
    section = ""
    if ($0 ~ /^## Table 1:/) section = "Table 1"
    else if ($0 ~ /^## Table 2:/) section = "Table 2"
    else if ($0 ~ /^## Table 3:/) section = "Table 3"
    else if ($0 ~ /^## Table 4:/) section = "Table 4"
    else if ($0 ~ /^### Table 4b:/) section = "Table 4b"
    if (section != "") seen[section] = 1
    header = 1
    next
}
section != "" && /^\|/ {
    if (header) { header = 0; next }          # the table's header row
    if ($0 ~ /^\| *---/) next                 # the alignment row
    n = split($0, cells, "|")
    label = trim(cells[2])
    if (label ~ /published/ || label ~ /^Timed runs/) next
    rows[section]++
    for (i = 3; i < n; i++) {
        c = trim(cells[i])
        if (c !~ /^[-+]?[0-9]/) {
            printf "  NOT A NUMBER: %s, row '%s', column %d: '%s'\n", section, label, i - 2, c > "/dev/stderr"
            bad = 1
        }
    }
}
END {
    split("Table 1,Table 2,Table 3,Table 4,Table 4b", want, ",")
    for (k in want) {
        if (!(want[k] in seen) || rows[want[k]] == 0) { printf "  MISSING: %s or its rows\n", want[k] > "/dev/stderr"; bad = 1 }
    }
    if (!bad) print "  ok: every cell of our rows in Tables 1-4 is a number"
    exit bad
}
