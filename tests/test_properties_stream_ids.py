"""Property tests for stream ids (events.valid_event_id / parse_id): exactly Redis's
grammar is accepted, `ms` or `ms-seq` in ASCII digits with each part at most
2^64-1, and an accepted id parses to the pair its parts spell."""

from __future__ import annotations

import re

import hypothesis.strategies as st
from hypothesis import given, settings

from resimply.events import parse_id, valid_event_id

U64 = 2**64 - 1
GRAMMAR = re.compile(r"[0-9]+(?:-[0-9]+)?")

bounded = settings(max_examples=500, derandomize=True, deadline=None, database=None)


def in_grammar(text: str) -> bool:
    return GRAMMAR.fullmatch(text) is not None and all(int(part) <= U64 for part in text.split("-"))


part = st.one_of(
    st.integers(0, U64),
    st.integers(U64 - 3, U64 + 3),
    st.integers(U64 + 1, 2**100),
).map(str)
near_ids = st.one_of(
    part,
    st.builds("{}-{}".format, part, part),
    # What Python's int() reads but Redis does not, and other near misses.
    st.builds("{:_}".format, st.integers(1000, 2**70)),
    st.builds(lambda p, pad: pad + p + pad, part, st.sampled_from([" ", "\t", "\n", "+", "-"])),
    st.builds("{}-{}-{}".format, part, part, part),
    st.builds("{}{}{}".format, part, st.sampled_from(["--", "-+", "- ", ".", ":", "-"]), part),
    st.text(st.characters(categories=["Nd"]), min_size=1, max_size=6),
    st.text(max_size=24),
)


@bounded
@given(near_ids)
def test_accepted_exactly_when_redis_would_accept_it(text: str) -> None:
    assert valid_event_id(text) == in_grammar(text), text


@bounded
@given(near_ids)
def test_an_accepted_id_parses_to_the_numbers_it_spells(text: str) -> None:
    if in_grammar(text):
        ms, _, seq = text.partition("-")
        assert parse_id(text) == (int(ms), int(seq or 0))


@bounded
@given(st.integers(0, U64), st.integers(0, U64))
def test_an_id_parses_to_its_parts_and_back(ms: int, seq: int) -> None:
    text = f"{ms}-{seq}"
    assert valid_event_id(text)
    assert parse_id(text) == (ms, seq)
    assert parse_id(str(ms)) == (ms, 0)
    assert "{}-{}".format(*parse_id(text)) == text
