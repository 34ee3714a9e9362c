"""Ingredient-line fidelity: our parser against ingredient-parser-nlp, held out (issue 13).

    .venv/bin/python -m bench.ingredients [--split report|tune] [--failures N]

Labelled lines: tests/data/ingredients/{en,de}.jsonl (sources, licences and
the labelling rules in that folder's README.md). Each line belongs to `tune` or
`report` by a hash of its sentence (`split_of`), so the split never moves when
lines are added. The figures are measured on `report` only; the failure classes
that parser work should look at next come from `tune`, so fixing them does not
teach to the figures.

Scored per field (quantity, unit, name) and all three together, after the
normalisation in `canonical_unit`, `canonical_name` and `same_amount` (both
sides alike). Speed is wall time per line, parse only.

ingredient-parser-nlp is a bench-only extra (not a runtime dependency). It wants
NLTK's `averaged_perceptron_tagger_eng` and downloads it on first use; here it is
built at install time from PyPI (scripts/nltk_tagger.py, run by `make install`).
It refuses German, so "n/a" there.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import hashlib
import json
import re
import time
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "ingredients"
LANGUAGES = ("en", "de")
FIELDS = ("quantity", "unit", "name")
REPORT_SHARE = 50  # percent of lines held out for the report
TOLERANCE = 1e-6


@dataclasses.dataclass(frozen=True)
class Line:
    """One labelled ingredient line (the JSONL format of tests/data/ingredients)."""

    sentence: str
    quantity: float | None
    quantity_max: float | None
    unit: str | None
    name: str | None
    source: str
    licence: str
    note: str | None = None


@dataclasses.dataclass(frozen=True)
class Parsed:
    """What a parser read from a line: the fields that are scored."""

    quantity: float | None
    quantity_max: float | None
    unit: str | None
    name: str | None


def load(lang: str, file: str = "{lang}.jsonl") -> list[Line]:
    path = DATA / file.format(lang=lang)
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as f:
        return [Line(**json.loads(row)) for row in f if row.strip()]


def lines_of(lang: str, split: str) -> list[Line]:
    """One side of the split. `tune` also has {lang}-tune.jsonl: more lines from the
    same sources, all on the tune side by the same hash, so never in a report."""
    lines = [line for line in load(lang) if split_of(line.sentence) == split]
    return lines + (load(lang, "{lang}-tune.jsonl") if split == "tune" else [])


def split_of(sentence: str) -> str:
    """'tune' or 'report', from a hash of the sentence: stable across runs and machines."""
    digest = hashlib.sha256(sentence.strip().encode("utf-8")).digest()
    return "report" if int.from_bytes(digest[:4], "big") % 100 < REPORT_SHARE else "tune"


# --- normalisation ---------------------------------------------------------------

# Canonical unit ← the ways it is written (English and German), compared in lower
# case without a final dot. Only "T"/"t" are case-sensitive (US tablespoon/teaspoon).
_UNIT_FORMS = {
    "tbsp": "tbsp tbsps tbs tb tbl tbls tblsp tablespoon tablespoons el essl esslöffel",
    "tsp": "tsp tsps teaspoon teaspoons tl teel teelöffel",
    "cup": "cup cups c tasse tassen",
    "g": "g gr grs gram grams gramme grammes gramm",
    "kg": "kg kgs kilo kilos kilogram kilograms kilogramm",
    "mg": "mg milligram milligrams",
    "ml": "ml mls millilitre millilitres milliliter milliliters",
    "l": "l ltr litre litres liter",
    "dl": "dl",
    "cl": "cl",
    "oz": "oz ounce ounces",
    "fl oz": "fl oz|floz|fl. oz|fluid ounce|fluid ounces",
    "lb": "lb lbs pound pounds",
    "pint": "pint pints pt",
    "quart": "quart quarts qt",
    "gallon": "gallon gallons",
    "pinch": "pinch pinches prise prisen",
    "dash": "dash dashes",
    "splash": "splash splashes schuss spritzer",
    "drop": "drop drops tropfen",
    "clove": "clove cloves zehe zehen",
    "can": "can cans tin tins dose dosen",
    "jar": "jar jars glas gläser",
    "pack": "pack packs packet packets package packages pkg pck pkt päckchen packung packungen",
    "bag": "bag bags beutel tüte tüten",
    "bottle": "bottle bottles flasche flaschen",
    "bunch": "bunch bunches bund bd",
    "handful": "handful handfuls handvoll",
    "piece": "piece pieces stück stk st",
    "slice": "slice slices scheibe scheiben",
    "sprig": "sprig sprigs zweig zweige",
    "stalk": "stalk stalks stiel stiele stange stangen rib ribs",
    "stick": "stick sticks",
    "head": "head heads kopf köpfe",
    "sheet": "sheet sheets blatt blätter",
    "cube": "cube cubes würfel",
    "tub": "tub tubs becher",
    "knob": "knob knobs",
    "pinch-knife": "msp messerspitze messerspitzen",
    "inch": "inch inches in",
    "cm": "cm",
}
_UNITS = {
    form: canonical
    for canonical, forms in _UNIT_FORMS.items()
    for form in (forms.split("|") if "|" in forms else forms.split())
}
# Size words that are not the unit ("large handful", "1 gehäufter EL").
_SIZE = {"small", "medium", "large", "big", "heaped", "heaping", "level", "generous", "scant"}
_SIZE |= {"sm", "lg", "med", "md", "tiny", "thin", "thick", "good"}
_SIZE |= {"gehäufter", "gehäufte", "gestrichener", "gestrichene", "große", "großer", "kleine"}


def canonical_unit(unit: str | None) -> str | None:
    """'Tablespoons' → 'tbsp', 'EL' → 'tbsp', 'T' → 'tbsp', 't' → 'tsp', 'gramm' → 'g';
    an unknown unit is kept in lower case. None and '' are no unit."""
    if not unit or not unit.strip():
        return None
    text = " ".join(unit.split())
    if text in ("T", "Tb", "Tbs", "Tbsp"):
        return "tbsp"
    if text == "t":
        return "tsp"
    words = [w for w in text.lower().split() if w.rstrip(".") not in _SIZE]
    text = " ".join(words).rstrip(".")
    if not text:
        return None
    return _UNITS.get(text) or _UNITS.get(_singular(text)) or _singular(text)


_IRREGULAR = {"leaves": "leaf", "halves": "half", "loaves": "loaf", "knives": "knife"}


def _singular(word: str) -> str:
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) <= 3:
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("oes", "ches", "shes", "sses", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def canonical_name(name: str | None) -> str | None:
    """Lower case, NFC, every run of characters other than letters, digits and
    hyphens becomes one space, and each English plural becomes singular by the
    rule in `_singular` ("tomatoes" → "tomato", "leaves" → "leaf"). German names are
    compared as written (apart from case): their plural is part of the label."""
    if not name:
        return None
    text = unicodedata.normalize("NFC", name).lower()
    words = re.sub(r"[^\w-]+|_", " ", text).split()
    words = [w.strip("-") for w in words if w.strip("-")]
    return " ".join(_singular(w) for w in words) or None


def same_number(a: float | None, b: float | None) -> bool:
    """Equal within 1e-6, or equal once both are rounded to three decimals: the
    project stores 1/3 as 0.333 on purpose (resimply/offline/quantities.py)."""
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= TOLERANCE or round(a, 3) == round(b, 3)


def same_amount(expected: Line, got: Parsed) -> bool:
    """The low end and the high end agree; a high end equal to the low end is no range."""

    def high(low: float | None, value: float | None) -> float | None:
        return None if value is None or same_number(low, value) else value

    return same_number(expected.quantity, got.quantity) and same_number(
        high(expected.quantity, expected.quantity_max), high(got.quantity, got.quantity_max)
    )


def _one_if_unit(quantity: float | None, unit: str | None) -> float | None:
    # "pinch of salt", "a bunch of basil": a unit without a number is one of it.
    # ingredient-parser-nlp says 1, its labels say nothing; both are right.
    return 1.0 if quantity is None and canonical_unit(unit) else quantity


def _counted(expected: Line, got: Parsed) -> tuple[Line, Parsed]:
    return (
        dataclasses.replace(expected, quantity=_one_if_unit(expected.quantity, expected.unit)),
        dataclasses.replace(got, quantity=_one_if_unit(got.quantity, got.unit)),
    )


def score(expected: Line, got: Parsed) -> dict[str, bool]:
    """Which fields the parser got right; 'all' when quantity, unit and name all are."""
    expected, got = _counted(expected, got)
    marks = {
        "quantity": same_amount(expected, got),
        "unit": canonical_unit(expected.unit) == canonical_unit(got.unit),
        "name": canonical_name(expected.name) == canonical_name(got.name),
    }
    marks["all"] = all(marks.values())
    return marks


# --- parsers -----------------------------------------------------------------------

Parser = Callable[[str], Parsed]


def ours() -> Parser:
    from resimply.offline import parse_ingredient

    def parse(sentence: str) -> Parsed:
        ing = parse_ingredient(sentence)
        return Parsed(ing.quantity, ing.quantity_max, ing.unit, ing.name)

    return parse


def _number(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None  # "" or a word the reference could not turn into a number


def reference() -> tuple[Parser | None, str]:
    """ingredient-parser-nlp's English parser, or None and why it cannot run here."""
    try:
        from nltk.data import find
    except ImportError as e:
        return None, f"not installed ({e.name}): pip install ingredient-parser-nlp"
    try:
        # Looked for before ingredient_parser is imported: its import downloads
        # the tagger when it is missing, which offline fails (or hangs).
        weights = find(f"{_TAGGER}/averaged_perceptron_tagger_eng.weights.json")
    except LookupError:
        return None, (
            "NLTK tagger averaged_perceptron_tagger_eng missing: `python scripts/nltk_tagger.py"
            " VENV` builds it from PyPI (make install does; tests/data/ingredients/README.md)"
        )
    try:
        from ingredient_parser import parse_ingredient
    except ImportError as e:
        return None, f"not installed ({e.name}): pip install ingredient-parser-nlp"

    def parse(sentence: str) -> Parsed:
        p = parse_ingredient(sentence, string_units=True)
        name = " or ".join(n.text for n in p.name) if p.name else None
        if not p.amount:
            return Parsed(None, None, None, name)
        first = p.amount[0]
        first = getattr(first, "amounts", [first])[0]  # a composite "1 lb 2 oz": its first part
        return Parsed(_number(first.quantity), _number(first.quantity_max), first.unit, name)

    try:
        parse("1 cup flour")
    except Exception as e:  # whatever stops it, the bench says so and goes on
        return None, f"fails on first use: {type(e).__name__}: {e}"
    return parse, _tagger_source(Path(str(weights)).parent)


_TAGGER = "taggers/averaged_perceptron_tagger_eng"


def _tagger_source(folder: Path) -> str:
    """Which tagger the reference runs with: scripts/nltk_tagger.py leaves a SOURCE file."""
    source = folder / "SOURCE"
    if source.is_file():
        return f"NLTK tagger built from {source.read_text(encoding='utf-8').split()[0]}"
    return "NLTK's own averaged_perceptron_tagger_eng"


# --- measuring ---------------------------------------------------------------------


@dataclasses.dataclass
class Result:
    lines: int
    right: dict[str, int]
    ms_per_line: float
    misses: list[tuple[Line, Parsed, dict[str, bool]]]

    def share(self, field: str) -> float:
        return 100.0 * self.right[field] / self.lines if self.lines else 0.0


def evaluate(parser: Parser, lines: Iterable[Line]) -> Result:
    lines = list(lines)
    start = time.perf_counter()
    parsed = [parser(line.sentence) for line in lines]
    elapsed = time.perf_counter() - start
    right = dict.fromkeys((*FIELDS, "all"), 0)
    misses = []
    for line, got in zip(lines, parsed, strict=True):
        marks = score(line, got)
        for field, ok in marks.items():
            right[field] += ok
        if not marks["all"]:
            misses.append((line, got, marks))
    return Result(len(lines), right, 1000 * elapsed / max(len(lines), 1), misses)


def failure_class(line: Line, got: Parsed, marks: dict[str, bool]) -> str:
    """A coarse pattern for one wrong line, the first wrong field deciding."""
    line, got = _counted(line, got)
    if not marks["quantity"]:
        if line.quantity is not None and got.quantity is None:
            return "quantity: none read"
        if line.quantity is None:
            return "quantity: read where the label has none"
        if same_number(line.quantity, got.quantity):
            return "quantity: range end wrong"
        return "quantity: wrong value"
    if not marks["unit"]:
        want, have = canonical_unit(line.unit), canonical_unit(got.unit)
        if have is None:
            return f"unit: {want!r} missed (written {line.unit!r})"
        if want is None:
            return "unit: read where the label has none"
        return f"unit: {want!r} read as {have!r}"
    want_words = set((canonical_name(line.name) or "").split())
    have_words = set((canonical_name(got.name) or "").split())
    if not have_words:
        return "name: empty"
    if want_words < have_words:
        return f"name: {_kind(have_words - want_words)} left in the name"
    if have_words < want_words:
        if _SECOND_MEASURE.search(line.sentence):
            return "name: words lost after a second measure (200g/7oz)"
        return "name: words lost"
    return "name: different"


_PREPARATION = re.compile(r"\w+(?:ed|en|ly)$|ground|minced|grated|sliced|diced|peeled|zested")


_SECOND_MEASURE = re.compile(r"\d\s*[^\W\d]*\.?\s*/\s*[\d½¼¾⅓⅔]")


def _kind(extra: set[str]) -> str:
    """What the words a parser left in a name are: size, preparation or something else."""
    if extra & _SIZE:
        return "size word"
    if any(_PREPARATION.fullmatch(w) for w in extra):
        return "preparation"
    return "other words"


def print_failures(result: Result, top: int) -> None:
    classes: dict[str, list[tuple[Line, Parsed]]] = collections.defaultdict(list)
    extra: collections.Counter[str] = collections.Counter()
    for line, got, marks in result.misses:
        key = failure_class(line, got, marks)
        classes[key].append((line, got))
        if key.endswith("left in the name"):
            extra.update(
                set((canonical_name(got.name) or "").split())
                - set((canonical_name(line.name) or "").split())
            )
    ranked = sorted(classes.items(), key=lambda kv: -len(kv[1]))[:top]
    for key, items in ranked:
        print(f"  {len(items):4d}  {key}")
        for line, got in items[:2]:
            print(
                f"          {line.sentence!r}: want {line.quantity}/{line.unit}/{line.name!r},"
                f" got {got.quantity}/{got.unit}/{got.name!r}"
            )
    if extra:
        print(
            "        words most often left in the name:",
            ", ".join(w for w, _ in extra.most_common(12)),
        )


def row(label: str, result: Result | None, why: str = "n/a") -> str:
    if result is None:
        return f"  {label:<24} {why}"
    figures = "  ".join(f"{result.share(f):5.1f}%" for f in (*FIELDS, "all"))
    return f"  {label:<24} {figures}  {result.ms_per_line:7.3f} ms/line"


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--split", choices=("report", "tune"), default="report")
    args.add_argument(
        "--failures", type=int, default=10, help="failure classes to print (tune split)"
    )
    opts = args.parse_args()
    mine = ours()
    theirs, why = reference()
    print(f"ingredient lines, {opts.split} split (held out: tuning looks at 'tune' only)")
    print(f"  {'':<24} quantity    unit    name     all")
    for lang in LANGUAGES:
        lines = lines_of(lang, opts.split)
        print(
            f" {lang}: {len(lines)} lines from {', '.join(sorted({line.source for line in lines}))}"
        )
        print(row("resimply.offline", evaluate(mine, lines)))
        if lang != "en":
            print(row("ingredient-parser-nlp", None, "n/a (English only)"))
        elif theirs is None:
            print(row("ingredient-parser-nlp", None, f"cannot run: {why}"))
        else:
            print(row("ingredient-parser-nlp", evaluate(theirs, lines)))
    if theirs is not None:
        print(f"  ingredient-parser-nlp ran with: {why}")
        print(
            "  note: ingredient-parser-nlp was trained on these sources, so its English figure is optimistic"
        )
    if opts.failures:
        for lang in LANGUAGES:
            tune = lines_of(lang, "tune")
            print(f"failure classes of resimply.offline, tune split, {lang} (top {opts.failures}):")
            print_failures(evaluate(mine, tune), opts.failures)


if __name__ == "__main__":
    main()
