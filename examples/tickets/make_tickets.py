#!/usr/bin/env python3
"""Writes the example data set of the README: short support tickets in three classes
(billing, delivery, technical), composed from hand-written phrases (no external text), as
train.csv, dev.csv and unlabelled.csv. Deterministic: run it again to get the same files.

    python3 examples/tickets/make_tickets.py examples/tickets
"""
import csv
import random
import sys

OPENINGS = ["Hi,", "Hello team,", "Good morning.", "Hey there,", "Dear support,", "Quick question:", "", "Urgent:",
            "Sorry to bother you again,", "Thanks in advance."]
CLOSINGS = ["Thanks!", "Please help.", "Regards, Sam", "Can you look into it?", "", "Cheers", "This is the second time.",
            "Any update would be great.", "Thank you, \"K\"", "I'd appreciate a quick reply."]
TOPICS = {
    "billing": [
        "I was charged twice for order {n}",
        "my invoice shows {amount} but I paid {amount2}",
        "the refund for order {n} has not arrived",
        "why did my subscription renew, I cancelled it last month",
        "please change the card on my account, the old one expired",
        "the discount code SAVE{d} was not applied at checkout",
        "I need a VAT invoice for my last payment",
        "there is an unknown charge of {amount} on my statement",
        "can I pay by bank transfer instead of card",
        "my plan was upgraded without my consent, revert it",
    ],
    "delivery": [
        "my parcel {n} is still not here after {d} days",
        "the courier left the box at the wrong address",
        "tracking for order {n} has not moved since Monday",
        "the package arrived damaged, the lid was crushed",
        "can you ship to a different address, I moved",
        "only two of the three items arrived",
        "the delivery window was 9 to 12, nobody came",
        "is express shipping available to Norway",
        "the box was wet and the manual inside is ruined",
        "please hold the parcel at the depot, I am away",
    ],
    "technical": [
        "the app crashes when I open the settings page",
        "I cannot log in, it says \"invalid token\"",
        "the export to CSV produces an empty file",
        "after the update {d}.{n2} the screen stays black",
        "sync between my phone and laptop stopped working",
        "the password reset email never arrives",
        "error 500 when uploading a photo larger than {d} MB",
        "the search returns nothing, even for exact names",
        "notifications arrive twice on Android",
        "the dark mode makes the buttons unreadable",
    ],
}


def ticket(rng, label):
    phrase = rng.choice(TOPICS[label]).format(
        n=rng.randint(10000, 99999), n2=rng.randint(0, 9), d=rng.randint(2, 30),
        amount=f"${rng.randint(5, 300)}.{rng.randint(0, 99):02d}", amount2=f"${rng.randint(5, 300)}")
    parts = [rng.choice(OPENINGS), phrase[0].upper() + phrase[1:] + rng.choice([".", "!", "?", "..."]), rng.choice(CLOSINGS)]
    text = " ".join(p for p in parts if p)
    if rng.random() < 0.05:
        text = text.replace(". ", ".\n", 1)  # a ticket written over two lines
    return text


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    rng = random.Random(7)
    labels = sorted(TOPICS)
    rows = [(ticket(rng, label), label) for label in labels for _ in range(100)]
    rng.shuffle(rows)
    splits = {"train.csv": rows[:240], "dev.csv": rows[240:300]}
    for name, part in splits.items():
        with open(f"{out}/{name}", "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["text", "label"])
            w.writerows(part)
    with open(f"{out}/unlabelled.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["ticket_id", "text"])
        for i in range(12):
            w.writerow([f"T-{1000 + i}", ticket(rng, labels[i % 3])])


if __name__ == "__main__":
    main()
