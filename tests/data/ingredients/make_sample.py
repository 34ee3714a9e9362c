"""Rebuild en.jsonl and en-tune.jsonl from ingredient-parser's labelled CSVs (see README.md).

    python tests/data/ingredients/make_sample.py <ingredient-parser checkout or git dir>

Reads train/data/{bbc,cookstr,tastecooking}/*.csv at the checkout's HEAD, keeps
the lines whose labels map without guessing onto one amount (rules in README.md),
draws a seeded random sample per source and writes en.jsonl next to this file;
then a second seeded sample of other lines that fall on the `tune` side of the
split, en-tune.jsonl (more lines to find failure classes in, none of them ever
reported). Run it only to refresh the sample; the bench and the tests read the files.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SEED = 13
PER_SOURCE = 500
TUNE_PER_SOURCE = 3000  # en-tune.jsonl: at most this many more per source, tune side only
SOURCES = {
    "bbc": "train/data/bbc/bbc-ingredients-snapshot-2017.csv",
    "cookstr": "train/data/cookstr/cookstr-ingredients-snapshot-2017.csv",
    "tastecooking": "train/data/tastecooking/tastecooking-ingredients-snapshot-2024.csv",
}
# The repository's LICENSE (MIT, Copyright (c) 2021 Tom Strange) covers train/data;
# the per-dataset READMEs give provenance and no other licence (README.md here).
LICENCE = "MIT (strangetom/ingredient-parser)"
WORD_NUMBERS = {
    "one": 1.0, "two": 2.0, "three": 3.0, "four": 4.0, "five": 5.0, "six": 6.0,
    "seven": 7.0, "eight": 8.0, "nine": 9.0, "ten": 10.0, "twelve": 12.0,
}  # fmt: skip
# Size words the labels sometimes put in the unit ("small bunch"); the unit is the noun.
SIZE_WORDS = {"small", "medium", "large", "big", "heaped", "heaping", "level", "generous", "scant"}
SIZE_WORDS |= {"sm", "lg", "med", "md", "tiny", "thin", "thick", "good"}
# Their tokeniser writes "½" as "#1$2" and "3½" as "3#1$2".
_FRACTION = re.compile(r"^(?:(\d+)?#(\d+)\$(\d+)|(\d*\.?\d+))$")


def number(token: str) -> float | None:
    if token.lower() in WORD_NUMBERS:
        return WORD_NUMBERS[token.lower()]
    m = _FRACTION.match(token)
    if not m:
        return None
    if m.group(4) is not None:
        return float(m.group(4))
    whole = float(m.group(1) or 0)
    return whole + int(m.group(2)) / int(m.group(3))


def amount(token: str) -> tuple[float, float | None] | None:
    """Read one quantity token: "2-3" → (2, 3); "1#1$2" → (1.5, None); None when it is not a plain amount."""
    parts = token.split("-")
    if len(parts) > 2:
        return None
    values = [number(p) for p in parts]
    if any(v is None for v in values):
        return None
    return (values[0], values[1] if len(values) == 2 else None)  # type: ignore[return-value]


def first_unit(units: str) -> str | None:
    words = [w for w in units.split() if w.lower() not in SIZE_WORDS]
    if not words:
        return None
    if len(words) > 1 and words[0].lower().rstrip(".") == "fl" and words[1].lower() == "oz":
        return "fl oz"
    return words[0]


_DIGITS = "0-9½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅛⅜⅝⅞"
_FIRST_AMOUNT = re.compile(
    rf"\b(?:{'|'.join(WORD_NUMBERS)})\b"
    rf"|[{_DIGITS}][{_DIGITS}./]*(?:\s+[{_DIGITS}][{_DIGITS}./]*)?"
    rf"(?:\s*(?:-|–|to)\s*[{_DIGITS}][{_DIGITS}./]*)?",
    re.IGNORECASE,
)


def unit_follows_first_amount(sentence: str, unit: str) -> bool:
    """The labels list units in the order they are written, not per amount: the first
    unit belongs to the first amount only when no other number stands between them."""
    first = _FIRST_AMOUNT.search(sentence)
    if not first:
        return True  # "few": nothing to misalign
    at = sentence.lower().find(unit.lower().split()[0], first.end())
    if at < 0:
        return False
    return not re.search(f"[{_DIGITS}]", sentence[first.end() : at])


def unit_of_a_size(line: dict[str, object]) -> bool:
    """True for "1 14-oz can coconut milk", "2 4-inch pieces ginger": a count, then a
    size whose unit the labels pair with the count ("1 oz"). `unit_follows_first_amount`
    meant to leave these out but read "1 14" as one mixed number; a mixed number
    ends in a fraction ("1 1/2", "1 ½"), a count before a size does not."""
    unit = str(line["unit"] or "").split()
    sentence = str(line["sentence"])
    if not unit or line["quantity"] is None:
        return False
    m = re.search(
        rf"[{_DIGITS}]+\s+([{_DIGITS}][{_DIGITS}.]*)\s*-?\s*{re.escape(unit[0])}", sentence, re.I
    )
    return bool(m) and not re.search(r"[½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅛⅜⅝⅞]", m.group(1))


def convert(row: dict[str, str]) -> dict[str, object] | None:
    """One labelled CSV row → one evaluation line, or None when it does not map cleanly."""
    name = " ".join(row["name"].split())
    if not name:
        return None  # unlabelled (most of bbc) or a line without an ingredient
    tokens = row["quantity"].split()
    amounts = [amount(t) for t in tokens]
    if any(a is None for a in amounts):
        return None  # "4x", "few", "dozen": multipliers and vague words are left out
    comment = row.get("comment", "")
    if len(tokens) > 1 and re.search(r"\bplus\b", comment + " " + row["input"], re.I):
        return None  # "2 tablespoons plus 2 teaspoons": a sum, not one amount
    unit = first_unit(row["unit"])
    if amounts and unit and not unit_follows_first_amount(row["input"], unit):
        return None  # "2 (28-ounce) cans": the first unit listed belongs to the second amount
    quantity, quantity_max = amounts[0] if amounts else (None, None)  # type: ignore[misc]
    note = "; ".join(x for x in (row.get("preparation", ""), comment) if x) or None
    if note:
        note = re.sub(
            r"(\d+)?#(\d+)\$(\d+)", lambda m: f"{m[1] + ' ' if m[1] else ''}{m[2]}/{m[3]}", note
        )
    return {
        "sentence": row["input"].strip(),
        "quantity": quantity,
        "quantity_max": quantity_max,
        "unit": unit,
        "name": name,
        "note": note,
    }


def main(repo: str) -> None:
    sys.path.insert(0, str(HERE.parent.parent.parent))
    from bench.ingredients import split_of

    out, tune = [], []
    for source, path in SOURCES.items():
        text = subprocess.run(
            ["git", "-C", repo, "show", f"HEAD:{path}"], capture_output=True, text=True, check=True
        ).stdout
        seen: set[str] = set()
        lines = []
        for row in csv.DictReader(io.StringIO(text)):
            line = convert(row)
            if line and line["sentence"] not in seen:
                seen.add(str(line["sentence"]))
                lines.append(line)
        sample = random.Random(f"{SEED}:{source}").sample(lines, PER_SOURCE)
        # Dropped after drawing, so the lines that stay are the ones drawn before.
        kept = [line for line in sample if not unit_of_a_size(line)]
        out += [{"source": source, "licence": LICENCE, **line} for line in kept]
        taken = {str(x["sentence"]) for x in out + tune}  # the sources share a few lines
        rest = [x for x in lines if x["sentence"] not in taken]
        rest = [x for x in rest if split_of(str(x["sentence"])) == "tune"]
        more = random.Random(f"{SEED}:tune:{source}").sample(rest, min(TUNE_PER_SOURCE, len(rest)))
        more = [line for line in more if not unit_of_a_size(line)]
        tune += [{"source": source, "licence": LICENCE, **line} for line in more]
        print(
            f"{source}: {len(lines)} usable lines, {len(kept)} of {PER_SOURCE} sampled kept,"
            f" {len(more)} tune-only",
            file=sys.stderr,
        )
    for name, rows in (("en.jsonl", out), ("en-tune.jsonl", tune)):
        with open(HERE / name, "w", encoding="utf-8") as f:
            for line in rows:
                f.write(json.dumps(line, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
