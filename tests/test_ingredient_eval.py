"""The ingredient-fidelity harness itself (bench/ingredients.py): labels, split, scoring.

Not the parser's accuracy: that is measured by `python -m bench.ingredients`.
"""

from __future__ import annotations

import collections
import dataclasses
import importlib.util
import json
import os
import pickle
import types
from pathlib import Path

import pytest

from bench.ingredients import (
    DATA,
    LANGUAGES,
    Line,
    Parsed,
    canonical_name,
    canonical_unit,
    lines_of,
    load,
    reference,
    same_amount,
    score,
    split_of,
)


def line(sentence: str = "x", quantity: float | None = None, quantity_max: float | None = None,
         unit: str | None = None, name: str | None = None) -> Line:  # fmt: skip
    return Line(sentence, quantity, quantity_max, unit, name, source="test", licence="CC0-1.0")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_labels_load_with_a_licence_and_consistent_amounts(lang: str) -> None:
    lines = load(lang)
    assert len(lines) >= 150
    sentences = [x.sentence for x in lines]
    assert len(set(sentences)) == len(sentences), (
        "a sentence labelled twice could sit on both sides"
    )
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    for x in lines:
        assert x.sentence.strip() and x.name, x
        assert x.licence and x.licence in readme, f"licence {x.licence!r} not documented"
        assert x.source in readme, f"source {x.source!r} not documented"
        if x.quantity_max is not None:
            assert x.quantity is not None and x.quantity_max > x.quantity, x


def test_german_lines_cover_the_written_forms() -> None:
    sentences = " ".join(x.sentence for x in load("de"))
    for form in ("EL", "TL", "Prise", "Bund", "Becher", "Dose", " g ", " kg ", " ml ", " l ",
                 "Stück", "Zehe", "½", "–", "0,5", "1.000", "nach Geschmack"):  # fmt: skip
        assert form in sentences, form


def test_split_is_disjoint_stable_and_about_half() -> None:
    for lang in LANGUAGES:
        lines = load(lang)
        sides = collections.Counter(split_of(x.sentence) for x in lines)
        assert set(sides) == {"tune", "report"}
        assert 0.35 < sides["report"] / len(lines) < 0.65, sides
    # Pinned: a change of the hash or the share would silently move lines between sides.
    assert split_of(" 500 g Mehl ") == split_of("500 g Mehl")
    assert {s: split_of(s) for s in PINNED} == PINNED


PINNED = {
    "500 g Mehl": "report",
    "1 Prise Salz": "report",
    "30-40 cherry tomatoes": "report",
    "2 garlic cloves, chopped": "tune",
    "1 tsp salt": "tune",
}


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("Tablespoons", "tbsp"), ("tbsp.", "tbsp"), ("T", "tbsp"), ("tb", "tbsp"), ("EL", "tbsp"),
        ("Esslöffel", "tbsp"), ("t", "tsp"), ("TL", "tsp"), ("c", "cup"), ("cups", "cup"),
        ("Tasse", "cup"), ("gramm", "g"), ("grams", "g"), ("Liter", "l"), ("fl oz", "fl oz"),
        ("ounces", "oz"), ("pound", "lb"), ("Zehen", "clove"), ("Dose", "can"), ("tin", "can"),
        ("Bund", "bunch"), ("small bunch", "bunch"), ("Pck.", "pack"), ("Stück", "piece"),
        ("", None), (None, None), ("furlong", "furlong"), ("rashers", "rasher"), ("sm bunch", "bunch"),
    ],
)  # fmt: skip
def test_units_are_compared_in_canonical_form(written: str | None, canonical: str | None) -> None:
    assert canonical_unit(written) == canonical


def test_names_ignore_case_punctuation_and_plurals() -> None:
    assert canonical_name("Tomatoes,") == canonical_name("tomato") == "tomato"
    assert canonical_name("fresh basil leaves") == "fresh basil leaf"
    assert canonical_name("cherries") == canonical_name("Cherry")
    assert canonical_name(" Crème fraîche ") == "crème fraîche"
    assert canonical_name("red onion") != canonical_name("small red onion")
    assert canonical_name("") is None


def test_amounts_compare_numerically_low_and_high_end() -> None:
    third = line(quantity=1 / 3)
    assert same_amount(third, Parsed(0.333, None, None, None))  # the project's 3 decimals
    assert not same_amount(third, Parsed(0.3, None, None, None))
    span = line(quantity=2, quantity_max=3)
    assert same_amount(span, Parsed(2.0, 3.0, None, None))
    assert not same_amount(span, Parsed(2.0, None, None, None))
    assert not same_amount(span, Parsed(2.0, 4.0, None, None))
    # ingredient-parser-nlp writes quantity_max = quantity when there is no range.
    assert same_amount(line(quantity=2), Parsed(2.0, 2.0, None, None))
    assert not same_amount(line(quantity=None), Parsed(1.0, None, None, None))


def test_a_unit_without_a_number_counts_one() -> None:
    pinch = line("pinch of salt", None, None, "pinch", "salt")
    assert score(pinch, Parsed(1.0, None, "pinch", "salt"))["all"]
    assert score(pinch, Parsed(None, None, "pinch", "salt"))["all"]
    assert not score(pinch, Parsed(None, None, None, "pinch of salt"))["quantity"]
    assert not score(line("salt", name="salt"), Parsed(1.0, None, None, "salt"))["quantity"]


def test_score_marks_each_field_and_all() -> None:
    want = line("2 tbsp chopped tarragon", 2, None, "tbsp", "tarragon")
    assert score(want, Parsed(2.0, None, "Tablespoons", "Tarragon")) == {
        "quantity": True, "unit": True, "name": True, "all": True,
    }  # fmt: skip
    assert score(want, Parsed(2.0, None, None, "tbsp chopped tarragon")) == {
        "quantity": True, "unit": False, "name": False, "all": False,
    }  # fmt: skip


def test_reference_parser_without_its_tagger_is_reported_not_downloaded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import nltk.data

    def missing(resource: str, *args: object, **kwargs: object) -> object:
        raise LookupError(resource)

    monkeypatch.setattr(nltk.data, "find", missing)
    parser, why = reference()
    assert parser is None
    assert "tagger" in why  # and ingredient_parser was not imported: its import would download it


def _nltk_tagger_script() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(
        "nltk_tagger", Path(__file__).resolve().parent.parent / "scripts" / "nltk_tagger.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tagger_pickle_becomes_nltk_json_that_nltk_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nltk.data
    from nltk.tag import PerceptronTagger

    script = _nltk_tagger_script()
    # The shape of textblob-aptagger's model: features → tag → weight, word → tag, tags.
    # Its bias says "(" for any unknown word: a tag no real model gives "flour".
    weights = {"bias": {"NN": 0.5, "-LRB-": 1.0}, "i word (": {"-LRB-": 9.0, "NN": -1.0}}
    model = (weights, {"the": "DT", "(": "-LRB-"}, {"NN", "DT", "-LRB-"})
    documents = script.convert(pickle.dumps(model, protocol=2))
    assert documents["classes"] == ["(", "DT", "NN"]
    assert documents["tagdict"] == {"the": "DT", "(": "("}
    assert documents["weights"]["i word ("] == {"(": 9.0, "NN": -1.0}
    venv = tmp_path / "venv"
    script.target(venv).mkdir(parents=True)
    for part, document in documents.items():
        (script.target(venv) / f"{script.TAGGER}.{part}.json").write_text(json.dumps(document))
    assert script.present(venv)
    # NLTK loads models only from its data path: this venv's comes first, as sys.prefix's would.
    monkeypatch.setattr(nltk.data, "path", [str(venv / "nltk_data"), *nltk.data.path])
    tagger = PerceptronTagger()
    assert tagger.tag(["the", "flour"]) == [("the", "DT"), ("flour", "(")]


def test_tagger_pickle_that_would_run_code_is_refused() -> None:
    script = _nltk_tagger_script()

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, ("true",))

    with pytest.raises(pickle.UnpicklingError, match="system"):
        script.convert(pickle.dumps(({}, {}, Evil()), protocol=2))


def test_extra_tune_lines_never_reach_the_report() -> None:
    extra = load("en", "{lang}-tune.jsonl")
    assert len(extra) >= 1000
    assert {split_of(x.sentence) for x in extra} == {"tune"}
    sentences = [x.sentence for x in extra]
    assert len(set(sentences)) == len(sentences)
    assert not set(sentences) & {x.sentence for x in load("en")}
    assert lines_of("en", "report") == [x for x in load("en") if split_of(x.sentence) == "report"]
    assert len(lines_of("en", "tune")) == len(load("en")) - len(lines_of("en", "report")) + len(
        extra
    )
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    assert {x.licence for x in extra} <= {x.licence for x in load("en")}
    assert "en-tune.jsonl" in readme


def test_a_count_before_a_size_is_left_out_of_the_labels() -> None:
    spec = importlib.util.spec_from_file_location("make_sample", DATA / "make_sample.py")
    assert spec and spec.loader
    sample = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sample)

    def row(sentence: str, unit: str) -> dict[str, object]:
        return {"sentence": sentence, "quantity": 1.0, "unit": unit}

    assert sample.unit_of_a_size(row("1 14-oz can coconut milk", "oz"))
    assert sample.unit_of_a_size(row("2 4 inch pieces ginger", "inch"))
    assert not sample.unit_of_a_size(row("1 1/2 cups flour", "cups"))
    assert not sample.unit_of_a_size(row("1 ½ cups flour", "cups"))
    assert not sample.unit_of_a_size(row("14-oz can coconut milk", "oz"))
    assert not any(sample.unit_of_a_size(dataclasses.asdict(x)) for x in load("en"))


def test_reference_parser_runs_offline_with_the_tagger_make_install_built() -> None:
    """`make install` builds the tagger (scripts/nltk_tagger.py), so the bench's
    reference column runs without a download; outside CI a bare venv may lack it."""
    import nltk.data

    try:
        nltk.data.find("taggers/averaged_perceptron_tagger_eng/")
    except LookupError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("no NLTK tagger here: python scripts/nltk_tagger.py .venv builds it")
    parser, why = reference()
    assert parser is not None, why
    assert "tagger" in why
    got = parser("2 cups plain flour")
    assert (got.quantity, canonical_unit(got.unit), got.name) == (2.0, "cup", "plain flour")
