#!/usr/bin/env python3
"""Writes a large labelled CSV for the data-loading benchmark: ROWS support tickets built from
the phrases of examples/tickets/make_tickets.py (columns text,label; some texts quoted, with
commas, quotes and line breaks).

    python3 scripts/bench/make_big_csv.py 1000000 .build/bench/tickets-1000000.csv
"""
import csv
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "tickets"))
from make_tickets import TOPICS, ticket  # noqa: E402


def main():
    rows, out = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(11)
    labels = sorted(TOPICS)
    with open(out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["text", "label"])
        for i in range(rows):
            label = labels[rng.randrange(3)]
            w.writerow([ticket(rng, label) + (" " + ticket(rng, label) if i % 4 == 0 else ""), label])


if __name__ == "__main__":
    main()
