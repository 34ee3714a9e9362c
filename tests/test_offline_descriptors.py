"""Every ingredient line right (issue 13, item 3): the failure classes of the
labelled lines, each with lines written here (none from the dataset).

Each row: line → (quantity, unit, name, note). The name is the ingredient as
bought; preparation, size and purpose move to the note, never lost.
"""

import pytest

from resimply.offline.ingredients import parse_ingredient

Row = tuple[float | None, str | None, str | None, str | None]

LINES: list[tuple[str, Row]] = [
    # "c" / "C" for cup
    ("½ c warm milk", (0.5, "c", "warm milk", None)),
    ("2 C rolled oats", (2.0, "C", "rolled oats", None)),
    ("1 c. brown rice", (1.0, "c", "brown rice", None)),
    ("180 C for 25 minutes", (180.0, None, "C for 25 minutes", None)),
    # preparation before the name
    ("3 tbsp chopped fresh dill", (3.0, "tbsp", "fresh dill", "chopped")),
    ("1 tsp finely grated orange zest", (1.0, "tsp", "orange zest", "finely grated")),
    ("½ tsp freshly ground white pepper", (0.5, "tsp", "white pepper", "freshly ground")),
    ("1 tsp ground cumin", (1.0, "tsp", "ground cumin", None)),
    ("150g cooked brown rice", (150.0, "g", "brown rice", "cooked")),
    ("salt and freshly ground pepper", (None, None, "salt and pepper", "freshly ground")),
    # in a can the preparation names the product
    ("1 tin chopped plum tomatoes", (1.0, "tin", "chopped plum tomatoes", None)),
    # … and so do products sold prepared
    ("½ cup shredded coconut", (0.5, "cup", "shredded coconut", None)),
    ("1 cup chopped tomatoes", (1.0, "cup", "chopped tomatoes", None)),
    (
        "1 tbsp rapeseed, sunflower, or other neutral oil",
        (1.0, "tbsp", "rapeseed, sunflower, or other neutral oil", None),
    ),
    # … and so do pitted, blanched, flaked, unless other preparation follows
    ("200 g pitted dates", (200.0, "g", "pitted dates", None)),
    ("50 g flaked almonds", (50.0, "g", "flaked almonds", None)),
    ("1 cup pitted chopped olives", (1.0, "cup", "olives", "pitted chopped")),
    # size words
    ("1 small swede", (1.0, None, "swede", "small")),
    ("3 large leeks, trimmed", (3.0, None, "leeks", "large; trimmed")),
    ("2 medium-sized parsnips", (2.0, None, "parsnips", "medium-sized")),
    ("1 lg shallot", (1.0, None, "shallot", "lg")),
    ("4 large, firm pears, halved", (4.0, None, "firm pears", "large; halved")),
    ("2 EL fein gehackter Dill", (2.0, "EL", "Dill", "fein gehackter")),
    ("1 EL fein geschnittener Schnittlauch", (1.0, "EL", "Schnittlauch", "fein geschnittener")),
    ("2 mittelgroße Möhren", (2.0, None, "Möhren", "mittelgroße")),
    ("80 g gemahlene Haselnüsse", (80.0, "g", "gemahlene Haselnüsse", None)),
    # purposes and "plus extra" at the end
    ("parsley, to garnish", (None, None, "parsley", "to garnish")),
    ("icing sugar, for dusting", (None, None, "icing sugar", "for dusting")),
    (
        "2 tbsp olive oil, plus extra for frying",
        (2.0, "tbsp", "olive oil", "plus extra for frying"),
    ),
    ("mint, dill, chives, to serve", (None, None, "mint, dill, chives", "to serve")),
    ("60 g butter, at room temperature", (60.0, "g", "butter", "at room temperature")),
    ("Öl für die Pfanne", (None, None, "Öl", "für die Pfanne")),
    # alternatives stay in the name
    ("1 tbsp rapeseed or sunflower oil", (1.0, "tbsp", "rapeseed or sunflower oil", None)),
    ("200 ml Milch oder Hafermilch", (200.0, "ml", "Milch oder Hafermilch", None)),
    ("1 tsp minced or grated garlic", (1.0, "tsp", "garlic", "minced or grated")),
    ("Lightly salted butter", (None, None, "Lightly salted butter", None)),
    # a second amount is an alternative kept as the note
    ("1 lime or 2 tbsp lime juice", (1.0, None, "lime", "or 2 tbsp lime juice")),
    ("1 tsp sugar and ½ tsp salt", (1.0, "tsp", "sugar", "and ½ tsp salt")),
    # lists and adjectives joined by commas stay in the name
    ("1 cup pecans, walnuts, or hazelnuts", (1.0, "cup", "pecans, walnuts, or hazelnuts", None)),
    (
        "2 skinless, boneless duck breasts, sliced",
        (2.0, None, "skinless, boneless duck breasts", "sliced"),
    ),
    ("2 oz smoked ham; diced", (2.0, "oz", "smoked ham", "diced")),
    # second measures in parts, ranges and inches; the package after a measure
    ("900g/2lb 6oz new potatoes", (900.0, "g", "new potatoes", "2lb 6oz")),
    ("200-300g/7oz-10oz green beans", (200.0, "g", "green beans", "7oz-10oz")),
    ("5cm/2in piece galangal", (5.0, "cm", "galangal", "2in; piece")),
    ("400ml/14fl oz tin coconut milk", (400.0, "ml", "coconut milk", "14fl oz; tin")),
    ("1-inch knob turmeric", (1.0, "inch", "turmeric", "knob")),
    # notes at the end of a line
    ("1 tsp salt or to taste", (1.0, "tsp", "salt", "or to taste")),
    ("Vegetable oil for deep-frying", (None, None, "Vegetable oil", "for deep-frying")),
    ("1 tsp cumin seeds 5 mL", (1.0, "tsp", "cumin seeds", "5 mL")),
    ("Pizza Dough (recipe below", (None, None, "Pizza Dough", "recipe below")),
    ("½ cup yogurt thinned with water", (0.5, "cup", "yogurt", "thinned with water")),
    (
        "3 tbsp mixed seeds, such as sesame and flax",
        (3.0, "tbsp", "mixed seeds", "such as sesame and flax"),
    ),
    ("1 lb fresh or frozen peas", (1.0, "lb", "fresh or frozen peas", None)),
    ("Aioli, homemade or store-bought", (None, None, "Aioli", "homemade or store-bought")),
    ("1 lb mixed nuts: almonds, cashews", (1.0, "lb", "mixed nuts", "almonds, cashews")),
    ("100 g wild (or button) mushrooms", (100.0, "g", "wild or button mushrooms", None)),
    ("6 snack-size pitas", (6.0, None, "pitas", "snack-size")),
    (
        "1 tbsp toasted walnuts or chopped pecans",
        (1.0, "tbsp", "walnuts or pecans", "toasted chopped"),
    ),
    ("½ cup very finely chopped shallots", (0.5, "cup", "shallots", "very finely chopped")),
    ("1 Bd. Schnittlauch", (1.0, "Bd", "Schnittlauch", None)),
    ("½ recipe shortcrust pastry", (0.5, "recipe", "shortcrust pastry", None)),
    # the part of a fruit that is used
    ("zest and juice of 1 lime", (1.0, None, "lime", "zest and juice")),
    ("Juice of ½ lemon", (0.5, None, "lemon", "Juice")),
    # a unit without a number before "of"; measures need a number
    ("sprigs of thyme", (None, "sprigs", "thyme", None)),
    ("g of salt", (None, None, "g of salt", None)),
    ("2 tbsp flour plus 1 tsp for dusting", (2.0, "tbsp", "flour", "plus 1 tsp for dusting")),
    ("2 T butter", (2.0, "T", "butter", None)),
    ("1 qt stock", (1.0, "qt", "stock", None)),
    ("4 rashers streaky bacon", (4.0, "rashers", "streaky bacon", None)),
    ("3 thyme sprigs", (3.0, "sprigs", "thyme", None)),
    ("1 cup plus 2 tbsp sugar", (1.0, "cup", "sugar", "plus 2 tbsp")),
    ("1 thumb-sized piece turmeric", (1.0, "piece", "turmeric", "thumb-sized")),
    ("400g tin chopped tomatoes", (400.0, "g", "chopped tomatoes", "tin")),
    ("4 strips pancetta", (4.0, "strips", "pancetta", None)),
    ("2 lime wedges", (2.0, None, "lime wedges", None)),
    ("1 x 400g/14oz tin black beans", (1.0, "tin", "black beans", "400g/14oz")),
    ("sunflower oil, for shallow frying", (None, None, "sunflower oil", "for shallow frying")),
    ("butter, to grease", (None, None, "butter", "to grease")),
    ("large bunch dill", (None, "bunch", "dill", "large")),
    ("3 extra large egg yolks", (3.0, None, "egg yolks", "extra large")),
    ("1 thinly-sliced fennel bulb", (1.0, "bulb", "fennel", "thinly-sliced")),
    ("1 tbsp honey or more to taste", (1.0, "tbsp", "honey", "or more to taste")),
    ("1 tsp capers, if using", (1.0, "tsp", "capers", "if using")),
    ("2 tbsp extra-virgin olive oil", (2.0, "tbsp", "extra-virgin olive oil", None)),
    ("200 g lentils (or a mixture of beans)", (200.0, "g", "lentils", "or a mixture of beans")),
    ("1 block firm tofu", (1.0, "block", "firm tofu", None)),
    ("2 pods cardamom", (2.0, "pods", "cardamom", None)),
    (
        "Pesto, homemade or store-bought, to serve",
        (None, None, "Pesto", "homemade or store-bought; to serve"),
    ),
    ("2 tbsp pine nuts (or use walnuts)", (2.0, "tbsp", "pine nuts", "or use walnuts")),
    # a unit after the name
    ("4 garlic cloves", (4.0, "cloves", "garlic", None)),
    ("1 garlic clove, sliced", (1.0, "clove", "garlic", "sliced")),
    ("3 celery stalks", (3.0, "stalks", "celery", None)),
    ("2 celery sticks", (2.0, "sticks", "celery", None)),
    ("4 lemon slices", (4.0, "slices", "lemon", None)),
    ("1 cinnamon stick", (1.0, None, "cinnamon stick", None)),  # the product itself
    # adjectives in a row, alternatives and lists after a comma stay in the name
    ("3 crisp, sweet apples", (3.0, None, "crisp, sweet apples", None)),
    (
        "2 tbsp sunflower oil, or groundnut oil",
        (2.0, "tbsp", "sunflower oil, or groundnut oil", None),
    ),
    (
        "Crackers, rye bread, or toast, to serve",
        (None, None, "Crackers, rye bread, or toast", "to serve"),
    ),
    ("1 tbsp fresh, chopped dill", (1.0, "tbsp", "fresh dill", "chopped")),
    ("2 tbsp chopped roasted, salted cashews", (2.0, "tbsp", "roasted, salted cashews", "chopped")),
    # … but what describes the ingredient after a comma is still the note
    (
        "2 onions, finely diced and fried in butter",
        (2.0, None, "onions", "and fried in butter; finely diced"),
    ),
    ("1 tsp fennel seeds, toasted and ground", (1.0, "tsp", "fennel seeds", "toasted and ground")),
    ("250 g mushrooms, wiped clean", (250.0, "g", "mushrooms", "wiped clean")),
    ("2 leeks, white and green parts", (2.0, None, "leeks", "white and green parts")),
    ("1 chicken, about 1.5 kg", (1.0, None, "chicken", "about 1.5 kg")),
    ("4 chicken thighs, skin on", (4.0, None, "chicken thighs", "skin on")),
    ("2 onions, halved lengthways", (2.0, None, "onions", "halved lengthways")),
    # a measure in two parts, a sum with "and", an article after the amount
    ("1 lb 4 oz pork belly", (1.0, "lb", "pork belly", "4 oz")),
    ("1 cup and 2 tbsp flour", (1.0, "cup", "flour", "and 2 tbsp")),
    ("½ an avocado", (0.5, None, "avocado", None)),
    ("a pinch of a spice mix", (1.0, "pinch", "spice mix", None)),
    # a short alternative in brackets is named, a comment in brackets is a note
    ("2 tbsp miso (or tahini)", (2.0, "tbsp", "miso or tahini", None)),
    (
        "3 tbsp almond butter (or any other nut butter)",
        (3.0, "tbsp", "almond butter", "or any other nut butter"),
    ),
    # "for …" and "per …" at the end are a note; a time after "for" is not
    ("1 tbsp coarse salt for the pasta water", (1.0, "tbsp", "coarse salt", "for the pasta water")),
    ("2 eggs per person", (2.0, None, "eggs", "per person")),
    # more preparation: iced, uncooked, fresh-squeezed
    ("3 tbsp iced water", (3.0, "tbsp", "water", "iced")),
    ("1 tbsp fresh-squeezed lemon juice", (1.0, "tbsp", "lemon juice", "fresh-squeezed")),
    # a word in brackets between the name's words is named; after the unit it is a note
    ("1 cup heavy (whipping) cream", (1.0, "cup", "heavy whipping cream", None)),
    ("½ cup (packed) brown sugar", (0.5, "cup", "brown sugar", "packed")),
    # adjectives with hyphens and after a size; a list after "each"; "X, Y or Z"
    (
        "2 lg skinless, boneless chicken breasts",
        (2.0, None, "skinless, boneless chicken breasts", "lg"),
    ),
    ("6 skin-on, bone-in pork chops", (6.0, None, "skin-on, bone-in pork chops", None)),
    (
        "1 tsp each ground cumin, coriander and paprika",
        (1.0, "tsp", "ground cumin, coriander and paprika", "each"),
    ),
    ("300 g halibut, cod or haddock, skinned", (300.0, "g", "halibut, cod or haddock", "skinned")),
    # the part used of what is bought: the count is of what is bought
    ("Leaves from 2 sprigs rosemary", (2.0, "sprigs", "rosemary", "Leaves")),
    ("Seeds of 1 pomegranate", (1.0, None, "pomegranate", "Seeds")),
    ("Zest of two oranges", (2.0, None, "oranges", "Zest")),
    # a count unit without a number, before or after the name
    ("Fresh thyme sprigs", (None, "sprigs", "Fresh thyme", None)),
    ("bunch coriander, chopped", (None, "bunch", "coriander", "chopped")),
    ("Stalks from a bunch of celery", (None, None, "Stalks from a bunch of celery", None)),
    # a size after another adjective ("other small" names a kind)
    ("2 ripe large avocados", (2.0, None, "ripe avocados", "large")),
    ("1 other small onion", (1.0, None, "other small onion", None)),
    # how it was prepared, after the name, and what it is like, are notes
    ("1 egg yolk beaten with 2 tbsp cream", (1.0, None, "egg yolk", "beaten with 2 tbsp cream")),
    (
        "2 tsp cornflour dissolved in 1 tbsp water",
        (2.0, "tsp", "cornflour", "dissolved in 1 tbsp water"),
    ),
    ("100 g mixed nuts like cashews", (100.0, "g", "mixed nuts", "like cashews")),
    ("Water to cover", (None, None, "Water", "to cover")),
    ("1 yellow onion chopped", (1.0, None, "yellow onion", "chopped")),
    ("2 tbsp basil chiffonade", (2.0, "tbsp", "basil", "chiffonade")),
    ("2 tbsp oil, or enough to coat", (2.0, "tbsp", "oil", "to coat; or enough")),
    (
        "¼ cup toasted, peeled, and crushed almonds",
        (0.25, "cup", "almonds", "crushed; toasted; peeled"),
    ),
    # a second unit or "or more" after the unit
    ("3 dashes or more of hot sauce", (3.0, "dashes", "hot sauce", "or more")),
    ("1 bottle or can lager", (1.0, "bottle", "lager", "or can")),
    # "Tb", a unit with nothing after it, "preferably …", a colon without an amount
    ("3 Tb butter", (3.0, "Tb", "butter", None)),
    ("4 cloves", (4.0, None, "cloves", None)),
    ("2 eggs. preferably free range", (2.0, None, "eggs", "preferably free range")),
    ("Fresh herbs: parsley or dill", (None, None, "Fresh herbs", "parsley or dill")),
    ("1 medium size, ripe pear", (1.0, None, "ripe pear", "medium size")),
    # purposes, cuts and lengths after the name are notes
    ("olive oil, to mix", (None, None, "olive oil", "to mix")),
    ("Whole figs as garnish", (None, None, "Whole figs", "as garnish")),
    ("1 apple cut into wedges", (1.0, None, "apple", "cut into wedges")),
    ("½ cup celery in ¼-inch dice", (0.5, "cup", "celery", "in ¼-inch dice")),
    ("6 leeks 3 to 4 inches long", (6.0, None, "leeks", "3 to 4 inches long")),
    (
        "400g/14oz bread flour + extra for dusting",
        (400.0, "g", "bread flour", "14oz; + extra for dusting"),
    ),
    (
        "1/4 cup tahini, homemade or store bought",
        (0.25, "cup", "tahini", "homemade or store bought"),
    ),
    ("1 pear, any variety", (1.0, None, "pear", "any variety")),
    ("3 plums, not too ripe", (3.0, None, "plums", "not too ripe")),
    # second amounts: minus, "to" another unit, "or two", measures in three units
    ("1 cup minus 2 tbsp sugar", (1.0, "cup", "sugar", "minus 2 tbsp")),
    (
        "1 1/2 teaspoons to 1 tablespoon olive oil",
        (1.5, "teaspoons", "olive oil", "to 1 tablespoon"),
    ),
    ("glug or two of wine", (None, "glug", "wine", "or two")),
    ("500g/1lb2oz cherries", (500.0, "g", "cherries", "1lb2oz")),
    ("227 g/8 oz/1 cup buttermilk", (227.0, "g", "buttermilk", "8 oz; 1 cup")),
    (
        "50ml/2fl oz each light and dark soy sauce",
        (50.0, "ml", "light and dark soy sauce", "2fl oz; each"),
    ),
    ("1 each red and green pepper", (1.0, None, "red and green pepper", "each")),
    ("2cm/¾in piece of ginger", (2.0, "cm", "ginger", "¾in; piece")),
    # a range of sizes, a temperature word
    ("1 medium to large onion", (1.0, None, "onion", "medium to large")),
    ("4 tbsp lukewarm milk", (4.0, "tbsp", "milk", "lukewarm")),
    # preparation after the name without a comma, and an adverb reaching past "or"
    ("1 pear cored, peeled and chopped", (1.0, None, "pear", "cored; peeled and chopped")),
    ("2 jalapeños seeded and deribbed", (2.0, None, "jalapeños", "seeded and deribbed")),
    ("½ tsp freshly grated or ground nutmeg", (0.5, "tsp", "nutmeg", "freshly grated or ground")),
    ("1 cup mashed bananas", (1.0, "cup", "bananas", "mashed")),
    # "or a combination", "or use …" after a comma comment; "up to" is like "about"
    (
        "3 tbsp lemon or lime juice, or a combination",
        (3.0, "tbsp", "lemon or lime juice", "or a combination"),
    ),
    (
        "1 cup chicken stock, or use vegetable stock",
        (1.0, "cup", "chicken stock", "or use vegetable stock"),
    ),
    ("Up to 200 g bacon", (200.0, "g", "bacon", None)),
    ("2 pounds 4 ounces pork shoulder", (2.0, "pounds", "pork shoulder", "4 ounces")),
    ("½ tsp (or to taste) salt", (0.5, "tsp", "salt", "or to taste")),
    # a unit word after a measure with nothing after it names the ingredient;
    # a separator right after the amount
    ("¼ tsp cloves, roughly broken up", (0.25, "tsp", "cloves", "roughly broken up")),
    ("1 lb 2 oz, rainbow chard, trimmed", (1.0, "lb", "rainbow chard", "2 oz; trimmed")),
    # a range written with its unit twice; a trailing amount with a bracket
    ("¼pint-½pint milk", (0.25, "pint", "milk", None)),
    ("¾ cup to 1 cup milk", (0.75, "cup", "milk", None)),
    ("Salt 1 teaspoon (4 grams)", (1.0, "teaspoon", "Salt", "4 grams")),
    ("A generous ½ teaspoon salt", (0.5, "teaspoon", "salt", "generous")),
    ("Juice and grated zest of 1 lemon", (1.0, None, "lemon", "Juice and grated zest")),
    # without an amount, a cut after the name is the name ("Jicama sticks")
    ("Jicama sticks", (None, None, "Jicama sticks", None)),
    ("orange segments or slices", (None, None, "orange segments or slices", None)),
    # a purpose before a colon: the ingredient follows it
    ("Garnish: parsley sprigs", (None, "sprigs", "parsley", "Garnish")),
    ("Zum Garnieren: Petersilie", (None, None, "Petersilie", "Zum Garnieren")),
    # the size of a measure before it, and a second count with its size
    ("Scant 1 cup milk", (1.0, "cup", "milk", "Scant")),
    ("heaping 2 tbsp cocoa", (2.0, "tbsp", "cocoa", "heaping")),
    ("3 medium or 2 large carrots, diced", (3.0, None, "carrots", "medium or 2 large; diced")),
    # more units
    ("1 rack of pork ribs", (1.0, "rack", "pork ribs", None)),
    ("1 pt double cream", (1.0, "pt", "double cream", None)),
    ("1 loaf sourdough", (1.0, "loaf", "sourdough", None)),
    ("glug of rapeseed oil", (None, "glug", "rapeseed oil", None)),
    ("2 thin slices ham", (2.0, "slices", "ham", "thin")),
    ("einige Tropfen Vanilleextrakt", (None, "Tropfen", "Vanilleextrakt", "einige")),
]


@pytest.mark.parametrize(("line", "expected"), LINES, ids=[line for line, _ in LINES])
def test_every_ingredient_line_right(line: str, expected: Row) -> None:
    ingredient = parse_ingredient(line)
    got = (ingredient.quantity, ingredient.unit, ingredient.name, ingredient.note)
    assert got == expected
