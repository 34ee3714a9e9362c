"""The parts of resimply/cooking one by one: query options, units, densities,
kinds of ingredients, rounding."""

from __future__ import annotations

import pytest
from starlette.datastructures import QueryParams

from resimply.cooking import ScaleOptions, UnitSystem, parse_scale_options
from resimply.cooking.densities import BUTTER, FLOUR, MILK, OIL, RICE, SUGAR, density_of
from resimply.cooking.kinds import is_equipment, is_seasoning
from resimply.cooking.rounding import fraction_text, round_measure, spoons
from resimply.cooking.units import Kind, canonical, kind_of, to_base
from resimply.errors import InvalidServings, InvalidUnits


@pytest.mark.parametrize(
    ("query", "options"),
    [
        ("", None),
        ("limit=3&other=x", None),
        ("servings=6", ScaleOptions(servings=6)),
        ("servings=6&units=metric", ScaleOptions(servings=6, units=UnitSystem.METRIC)),
        ("units=us", ScaleOptions(units=UnitSystem.US)),
        ("units=original", ScaleOptions()),
        ("units=US", ScaleOptions(units=UnitSystem.US)),
        ("scale=0.5", ScaleOptions(scale=0.5)),
        ("scale=1,5&units=metric", ScaleOptions(scale=1.5, units=UnitSystem.METRIC)),
        ("servings=1000", ScaleOptions(servings=1000)),
    ],
)
def test_query_options(query: str, options: ScaleOptions | None) -> None:
    assert parse_scale_options(QueryParams(query)) == options


@pytest.mark.parametrize(
    ("query", "error", "says"),
    [
        ("servings=0", InvalidServings, "from 1 to 1000"),
        ("servings=1001", InvalidServings, "from 1 to 1000"),
        ("servings=2.5", InvalidServings, "whole number"),
        ("servings=-2", InvalidServings, "whole number"),
        ("servings=", InvalidServings, "whole number"),
        ("servings=%D9%A3", InvalidServings, "whole number"),  # Arabic-Indic 3: int() reads it
        ("servings=1e3", InvalidServings, "whole number"),
        ("servings=2&servings=3", InvalidServings, "once"),
        ("scale=0", InvalidServings, "from 0.05 to 100"),
        ("scale=nan", InvalidServings, "such as 2 or 0.5"),
        ("scale=inf", InvalidServings, "such as 2 or 0.5"),
        ("scale=101", InvalidServings, "from 0.05 to 100"),
        ("servings=2&scale=2", InvalidServings, "not both"),
        ("units=imperial", InvalidUnits, "metric, us, original"),
        ("units=", InvalidUnits, "metric, us, original"),
        ("units=us&units=metric", InvalidUnits, "once"),
    ],
)
def test_bad_query_options_say_what_to_send(query: str, error: type[Exception], says: str) -> None:
    with pytest.raises(error) as caught:
        parse_scale_options(QueryParams(query))
    assert caught.value.http_status == 400  # type: ignore[attr-defined]
    assert says in caught.value.message  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("written", "measure", "kind"),
    [
        ("EL", "tbsp", Kind.VOLUME),
        ("TL", "tsp", Kind.VOLUME),
        ("Esslöffel", "tbsp", Kind.VOLUME),
        ("T", "tbsp", Kind.VOLUME),
        ("t", "tsp", Kind.VOLUME),
        ("Tbsp", "tbsp", Kind.VOLUME),
        ("cups", "cup", Kind.VOLUME),
        ("c", "cup", Kind.VOLUME),
        ("fl oz", "floz", Kind.VOLUME),
        ("l", "l", Kind.VOLUME),
        ("Gramm", "g", Kind.MASS),
        ("lbs", "lb", Kind.MASS),
        ("Prise", None, Kind.VAGUE),
        ("Msp", None, Kind.VAGUE),
        ("Becher", None, Kind.CONTAINER),
        ("Dose", None, Kind.CONTAINER),
        ("Pck", None, Kind.CONTAINER),
        ("Zehen", None, Kind.COUNT),
        (None, None, Kind.COUNT),
        ("cm", None, Kind.LENGTH),
        ("Bund", None, Kind.OTHER),
    ],
)
def test_units_as_written(written: str | None, measure: str | None, kind: Kind) -> None:
    assert (canonical(written), kind_of(written)) == (measure, kind)


def test_sizes_come_from_pint() -> None:
    assert to_base(1, "cup") == pytest.approx(236.588, abs=0.001)
    assert to_base(1, "tbsp") == pytest.approx(14.787, abs=0.001)
    assert to_base(1, "lb") == pytest.approx(453.592, abs=0.001)
    assert to_base(1, "oz") == pytest.approx(28.3495, abs=0.0001)


@pytest.mark.parametrize(
    ("name", "density"),
    [
        ("all-purpose flour", FLOUR),
        ("Weizenmehl Type 405", FLOUR),  # the grade is not part of the name
        ("Weizenmehl", FLOUR),
        ("Dinkelmehl", FLOUR),
        ("sugar", SUGAR),
        ("Zucker", SUGAR),
        ("butter", BUTTER),
        ("Butter, weich", BUTTER),
        ("whole milk", MILK),
        ("Vollmilch", MILK),
        ("olive oil", OIL),
        ("Olivenöl", OIL),
        ("basmati rice", RICE),
        ("Basmatireis", RICE),
        ("rice vinegar", None),  # the head noun decides
        ("peanut butter", density_of("Erdnussbutter")),
        ("butter beans", None),
        ("chopped parsley", None),
        (None, None),
    ],
)
def test_densities_by_english_and_german_name(name: str | None, density: object) -> None:
    assert density_of(name) is density


@pytest.mark.parametrize(
    ("name", "measure", "language", "seasoning"),
    [
        ("salt", "tsp", "en", True),
        ("black pepper", "tsp", "en", True),
        ("salt and pepper", None, "en", True),
        ("red pepper flakes", "tsp", "en", True),
        ("red chillies", None, "en", True),
        ("ground cumin", "tsp", "en", True),
        ("smoked paprika", "tsp", "en", True),
        ("red bell peppers", None, "en", False),
        ("baking powder", "tsp", "en", False),
        ("garlic cloves", None, "en", False),
        ("unsalted butter", "g", "en", False),
        ("pepper jack cheese", "g", "en", False),
        ("Salz", "prise", "de", True),
        ("Meersalz", "g", "de", True),
        ("Cayennepfeffer", "msp", "de", True),
        ("Chiliflocken", "tsp", "de", True),
        ("Zimt", "tsp", "de", True),
        ("Paprika", None, "de", False),
        ("Paprika edelsüß", "tsp", "de", True),
        ("Pfefferminze", None, "de", False),
        ("Mehl", "g", "de", False),
    ],
)
def test_seasonings(name: str, measure: str | None, language: str, seasoning: bool) -> None:
    assert is_seasoning(name, measure, language) is seasoning


@pytest.mark.parametrize(
    ("name", "equipment"),
    [
        ("springform pan", True),
        ("9x13 baking dish", True),
        ("Springform", True),
        ("Auflaufform", True),
        ("Backblech", True),
        ("pan drippings", False),
        ("flour", False),
    ],
)
def test_pans_and_tins(name: str, equipment: bool) -> None:
    assert is_equipment(name) is equipment


@pytest.mark.parametrize(
    ("tsp", "shown"),
    [
        (0.03, (1.0, "pinch")),
        (0.1, (0.125, "tsp")),
        (0.33, (0.375, "tsp")),
        (0.7, (0.75, "tsp")),
        (2.25, (2.25, "tsp")),
        (3.0, (1.0, "tbsp")),
        (3.75, (3.75, "tsp")),
        (3.25, (1.0, "tbsp")),
        (4.75, (1.5, "tbsp")),
        (4.5, (1.5, "tbsp")),
        (7.0, (2.5, "tbsp")),
        (12.0, (4.0, "tbsp")),
    ],
)
def test_spoons(tsp: float, shown: tuple[float, str]) -> None:
    assert spoons(tsp) == shown


@pytest.mark.parametrize(
    ("measure", "value", "shown"),
    [
        ("g", 7.4, (7, "g")),
        ("g", 187.5, (190, "g")),
        ("g", 62.0, (60, "g")),
        ("g", 63.0, (65, "g")),
        ("g", 1234.0, (1.25, "kg")),
        ("kg", 0.06, (60, "g")),
        ("ml", 999.0, (1.0, "l")),
        ("cup", 0.7, (0.667, "cup")),
        ("cup", 1.6, (1.667, "cup")),
        ("cup", 0.1, (1.5, "tbsp")),  # 4.8 tsp
        ("oz", 17.0, (1.0, "lb")),
        ("oz", 7.1, (7.0, "oz")),
        ("lb", 0.2, (3.0, "oz")),
    ],
)
def test_rounding_to_what_people_measure(
    measure: str, value: float, shown: tuple[float, str]
) -> None:
    got_value, got_unit = round_measure(measure, value)
    assert (round(got_value, 3), got_unit) == shown


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.5, "1 ½"), (0.333, "⅓"), (2.0, "2"), (0.125, "⅛"), (2.667, "2 ⅔"), (1.1, "1.1")],
)
def test_fractions(value: float, text: str) -> None:
    assert fraction_text(value) == text
