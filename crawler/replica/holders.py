"""The replica's holders ("Titular"): studios, photographers, family albums, institutions, one-off donors.

A holder has photographs only from its active span: a studio open 1905-1932 holds nothing from
1950, a family album covers 20-40 years, an institution a century. Holders are chosen to fit a
record's year (never the year to fit the holder), so the span a holder's dated records show is
evidence an archivist would use, and the replica knows it exactly (`Holder.first_year`,
`Holder.last_year`). A few donors give one or two photographs only: a holder that says little.

>>> import random
>>> holders = assign_holders([1905, 1960, 1961], 3, random.Random(0))
>>> all(h.first_year <= y <= h.last_year for h, y in zip(holders, [1905, 1960, 1961]))
True
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from crawler.replica.catalogue import GIVEN, PLACE_WEIGHTS, PLACES, SURNAMES

YEAR_FIRST, YEAR_LAST = 1860, 1989  # the years the replica's photographs cover
# kind -> (names, span in years (min, max), weight (min, max): a holder's share of its years' photographs)
KINDS = {
    "studio": (("Foto {surname}", "Fotografía {surname}", "Estudio {surname}", "{surname} Fotógrafos",
                "Foto {surname} e Hijos"), (12, 35), (2.0, 5.0)),
    "photographer": (("{given} {surname}", "{given} {surname} {surname2}"), (10, 40), (1.0, 3.0)),
    "album": (("Familia {surname} {surname2}", "Álbum de la familia {surname}", "Colección {surname} {surname2}"),
              (20, 40), (0.8, 2.0)),
}
# (name, first year, last year, home town, weight): long-lived institutions; together they cover every year.
INSTITUTIONS = (
    ("Archivo Histórico Provincial de La Rioja", YEAR_FIRST, YEAR_LAST, None, 3.0),
    ("Biblioteca de La Rioja", 1880, YEAR_LAST, None, 2.0),
    ("Instituto de Estudios Riojanos", 1905, YEAR_LAST, None, 1.5),
    ("Archivo Municipal de Logroño", 1870, YEAR_LAST, "Logroño", 2.5),
    ("Archivo Municipal de Haro", 1890, 1975, "Haro", 1.5),
    ("Ayuntamiento de Calahorra", 1910, YEAR_LAST, "Calahorra", 1.0),
    ("Parroquia de Santa María de Nájera", 1895, 1970, "Nájera", 0.8),
)
DONOR_NAMES = ("Donación {given} {surname}", "Legado {given} {surname} {surname2}")
# kind -> (records per holder, fewest, most): a larger archive has more holders, up to what a province has
ROSTER_SIZE = {"studio": (40, 4, 40), "photographer": (70, 3, 30), "album": (50, 4, 60)}
DONOR_SHARE = 0.015  # share of the records given by one-off donors (one or two photographs each)
MAX_DONORS = 200  # a larger archive has no more donors than this
PAIR_WINDOW = 4  # a donor's second photograph lies within this many years of the first


@dataclass(frozen=True)
class Holder:
    name: str  # as the record page's "Titular" shows it
    kind: str  # "studio" | "photographer" | "album" | "institution" | "donor"
    first_year: int  # earliest year it holds photographs of
    last_year: int  # latest year it holds photographs of
    town: str | None  # home town; None for a provincial institution
    weight: float  # its share of the photographs of its active years, relative to the others active then

    @property
    def dc_element(self) -> str:
        """The Dublin Core element the replica's OAI-PMH names it in: who took it, or who gave or keeps it."""
        return "creator" if self.kind in ("studio", "photographer") else "contributor"


def _name(templates: tuple[str, ...], rng: random.Random, taken: set[str]) -> str:
    while True:
        surname, surname2 = rng.sample(SURNAMES, 2)
        name = rng.choice(templates).format(given=rng.choice(GIVEN), surname=surname, surname2=surname2)
        if name not in taken:
            taken.add(name)
            return name


def draw_roster(records: int, rng: random.Random) -> tuple[Holder, ...]:
    """The archive's holders: the institutions, and studios, photographers and albums in proportion to its size."""
    taken = {name for name, *_ in INSTITUTIONS}
    roster = [Holder(name, "institution", first, last, town, weight) for name, first, last, town, weight in INSTITUTIONS]
    for kind, (per_holder, fewest, most) in ROSTER_SIZE.items():
        templates, (shortest, longest), (lightest, heaviest) = KINDS[kind]
        for _ in range(min(max(fewest, records // per_holder), most)):
            span = rng.randint(shortest, longest)
            first = rng.randint(YEAR_FIRST, YEAR_LAST - shortest)
            town = rng.choices(PLACES, weights=PLACE_WEIGHTS)[0]
            roster.append(Holder(_name(templates, rng, taken), kind, first, min(first + span, YEAR_LAST), town,
                                 rng.uniform(lightest, heaviest)))
    return tuple(roster)


def _donors(years: list[int], rng: random.Random, taken: set[str]) -> dict[int, Holder]:
    """Record index -> a one-off donor; every other donor gives a second photograph of a near year when one exists."""
    wanted = min(max(1, round(DONOR_SHARE * len(years))), MAX_DONORS) if len(years) >= 30 else 0
    chosen: dict[int, Holder] = {}
    order = list(range(len(years)))
    rng.shuffle(order)
    order_position = {i: k for k, i in enumerate(order)}
    seconds: dict[int, list[int]] = {}  # year -> records that may be a donor's second photograph, in drawn order
    for i in order[wanted:]:
        seconds.setdefault(years[i], []).append(i)
    for k, first in enumerate(order[:wanted]):
        members = [first]
        if k % 2:
            near = [i for year in range(years[first] - PAIR_WINDOW, years[first] + PAIR_WINDOW + 1)
                    for i in seconds.get(year, [])[:1]]
            if near:
                second = min(near, key=order_position.__getitem__)
                seconds[years[second]].remove(second)
                members.append(second)
        low, high = min(years[i] for i in members), max(years[i] for i in members)
        donor = Holder(_name(DONOR_NAMES, rng, taken), "donor", low, high, rng.choices(PLACES, PLACE_WEIGHTS)[0], 0.0)
        chosen.update(dict.fromkeys(members, donor))
    return chosen


def assign_holders(years: list[int], records: int, rng: random.Random) -> list[Holder]:
    """The holder of each record, given the year its picture shows; each holder's span contains its records' years."""
    roster = draw_roster(records, rng)
    donors = _donors(years, rng, {h.name for h in roster})
    active: dict[int, tuple[list[Holder], list[float]]] = {}  # year -> the holders active then, and their weights
    holders = []
    for i, year in enumerate(years):
        if i in donors:
            holders.append(donors[i])
            continue
        if year not in active:
            chosen = [h for h in roster if h.first_year <= year <= h.last_year]
            active[year] = chosen, [h.weight for h in chosen]
        holders.append(rng.choices(*active[year])[0])
    return holders
