"""The replica's catalogue text: Spanish titles, places of La Rioja, descriptions and messy dates.

Every date string is built around a catalogued year and is read back by db.dates.parse_date to
a range that contains that year; "no date" and "unparseable" strings read back as unknown.

`record_text` writes what a record's page shows besides its date, from the year its picture shows
and its holder (crawler/replica/holders.py): most titles name a plain subject; some name the year,
the decade, a circa, a range or an event whose year is known (EVENTS), always the picture's year
within the form's precision; most records have no description, as on the real archive.

>>> import random
>>> text = record_text(1932, "Logroño", random.Random(3))
>>> text.title_date is None or text.title_date in text.title
True
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

PLACES = (
    "Logroño", "Haro", "Calahorra", "Nájera", "Santo Domingo de la Calzada", "Arnedo", "Ezcaray",
    "Alfaro", "Cervera del Río Alhama", "Torrecilla en Cameros", "San Millán de la Cogolla", "Briones",
    "Navarrete", "Fuenmayor", "Cenicero", "Albelda de Iregua", "Anguiano", "Autol", "Lardero",
    "Villoslada de Cameros", "Briñas", "San Vicente de la Sonsierra",
)
# Logroño dominates the real archive.
PLACE_WEIGHTS = (8, 4, 4, 3, 3, 3, 2) + (1,) * 15
STREETS = {
    "Logroño": ("calle Portales", "el Espolón", "calle Laurel", "el Puente de Piedra", "la plaza del Mercado"),
    "Haro": ("la plaza de la Paz", "el barrio de la Estación", "la calle de la Vega"),
    "Calahorra": ("el paseo del Mercadal", "la calle Mayor", "la catedral"),
    "Nájera": ("el monasterio de Santa María la Real", "el puente sobre el Najerilla"),
    "Santo Domingo de la Calzada": ("la plaza de España", "la catedral"),
    "Arnedo": ("la plaza de Nuestra Señora de Vico", "las fábricas de calzado"),
    "Ezcaray": ("la fábrica de mantas", "la plaza del Quiosco"),
}
SUBJECTS = (
    "Vista general de {place}", "Calle Mayor de {place}", "Fiestas patronales en {place}",
    "Procesión de Semana Santa en {place}", "Vendimia en los alrededores de {place}",
    "Mercado de los jueves en {place}", "Escuela de niñas de {place}", "Equipo de fútbol de {place}",
    "Inauguración del puente de {place}", "Retrato de familia", "Retrato de estudio de una joven",
    "Boda de {given} {surname} y {given2} {surname2}", "Primera comunión de {given} {surname}",
    "Bodegas {surname} & Hijos", "Cuadrilla de vendimiadores en {place}", "Trilla en la era de {place}",
    "Banda de música de {place}", "Feria de ganado en {place}", "Obras de la carretera de {place}",
    "Taller de alpargatas en {place}", "Romería a la ermita de {place}", "Lavadero público de {place}",
    "Llegada del tren a {place}", "Partido de pelota en el frontón de {place}", "El \"Café Moderno\" de {place}",
)
GIVEN = ("José", "María", "Pilar", "Antonio", "Carmen", "Francisco", "Dolores", "Jesús", "Ángeles",
         "Manuel", "Rosario", "Luis", "Teresa", "Fermín", "Begoña", "Julián")
SURNAMES = ("Sáenz", "Martínez", "Pérez", "García", "López", "Ruiz", "Jiménez", "Sáenz de Cabezón",
            "Ochoa", "Fernández", "Alonso", "Gil", "Íñiguez", "Castroviejo", "Moreno", "Lacalle")
HOLDERS = (
    "Archivo Histórico Provincial de La Rioja", "Biblioteca de La Rioja", "Instituto de Estudios Riojanos",
    "Archivo Municipal de {place}", "Ayuntamiento de {place}", "Colección {surname} {surname2}",
    "Familia {surname} {surname2}", "Parroquia de Santa María de {place}", "Fondo Foto {surname}",
)
DETAILS = (
    "Al fondo, la torre de la iglesia.", "Copia en papel con anotaciones a lápiz en el reverso.",
    "Se aprecian carros y caballerías.", "Posan los vecinos ante la cámara.",
    "Rótulo \"{surname} e Hijos\" en la fachada.", "Imagen cedida para su digitalización.",
    "La copia presenta manchas y pérdidas de emulsión.", "En primer término, un grupo de niños.",
    "Ambiente de día de fiesta <según la ficha original>.", "Vista tomada desde {street}.",
)

MONTHS_ES = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
             "octubre", "noviembre", "diciembre")
DECADE_WORDS_ES = {20: "veinte", 30: "treinta", 40: "cuarenta", 50: "cincuenta", 60: "sesenta",
                   70: "setenta", 80: "ochenta"}
NO_DATE = ("s.f.", "sin fecha", "", "s.d.", "S/F")
UNPARSEABLE = ("ilegible", "ver reverso", "según inventario", "fecha desconocida?", "19??",
               "entre guerras", "MCMXX", "antigua")


class _Draws(dict):
    """Template values drawn only when a template asks for them (fewer draws, same determinism)."""

    def __init__(self, rng: random.Random, place: str):
        super().__init__(place=place)
        self.rng = rng

    def __missing__(self, key: str) -> str:
        pool = {"given": GIVEN, "given2": GIVEN, "surname": SURNAMES, "surname2": SURNAMES}.get(key)
        if pool is None:  # "street"
            pool = STREETS.get(self["place"], ("la plaza", "la carretera"))
        value = self[key] = self.rng.choice(pool)
        return value


def _fill(template: str, rng: random.Random, place: str) -> str:
    return template.format_map(_Draws(rng, place))


def first_catalogue_draws(rng: random.Random) -> dict[str, str]:
    """The first replica's text for one photograph (keys: canonical labels); no longer served.

    build_archive still makes these draws on its main random stream, so that every later draw
    (dates, faults, duplicates, image sizes and qualities) is what it was before `record_text`.
    """
    place = rng.choices(PLACES, weights=PLACE_WEIGHTS)[0]
    title = _fill(rng.choice(SUBJECTS), rng, place)
    lugar = place if rng.random() < 0.7 else f"{place} (La Rioja)"
    description = f"{title}. " + " ".join(_fill(d, rng, place) for d in rng.sample(DETAILS, rng.randint(1, 2)))
    return {
        "Título": title,
        "Titular": _fill(rng.choice(HOLDERS), rng, place),
        "Lugar": lugar,
        "Descripción": description,
    }


def date_string(year: int, rng: random.Random) -> str:
    """A messy catalogue date whose parsed range contains `year` (see module docstring)."""
    decade = year - year % 10
    r = rng.randint
    forms: list[tuple[float, Callable[[], str]]] = [
        (30, lambda: str(year)),
        (6, lambda: f"hacia {year + r(-3, 3)}"),
        (4, lambda: f"h. {year + r(-3, 3)}"),
        (4, lambda: f"ca. {year + r(-3, 3)}"),
        (2, lambda: f"c. {year + r(-2, 2)}"),
        (5, lambda: f"{year - r(0, 5)}-{year + r(1, 5)}"),
        (3, lambda: f"{decade}/{(decade + 10) % 100:02d}"),
        (2, lambda: f"{year - r(0, 3)} - {year + r(1, 3)}"),
        (4, lambda: f"[{year}?]"),
        (2, lambda: f"{year}?"),
        (4, lambda: f"{r(1, 28)} {rng.choice(MONTHS_ES).upper()} {year}"),
        (4, lambda: f"{rng.choice(MONTHS_ES)} {year}"),
        (2, lambda: f"{r(1, 28):02d}/{r(1, 12):02d}/{year}"),
    ]
    if year >= 1910:
        forms += [
            (6, lambda: f"años {decade % 100:02d}"),
            (2, lambda: f"AÑOS {decade % 100:02d}"),
            (3, lambda: f"década de {decade}"),
        ]
        if decade % 100 in DECADE_WORDS_ES:
            forms.append((2, lambda: f"años {DECADE_WORDS_ES[decade % 100]}"))
    if 1900 <= year <= 1929:
        forms.append((4, lambda: "principios del siglo XX"))
    if 1940 <= year <= 1969:
        forms.append((1, lambda: "mediados del siglo XX"))
    if 1870 <= year <= 1899:
        forms += [(4, lambda: "finales del s. XIX"), (2, lambda: "finales del siglo XIX")]
    if 1850 <= year <= 1899:
        forms.append((2, lambda: "segunda mitad del siglo XIX"))
    weights = [w for w, _ in forms]
    return rng.choices(forms, weights=weights)[0][1]()


# (event, year, town): occasions a title may name instead of a date. The replica's own table, for
# tests of "the title names an event whose year is known"; not a historical reference.
EVENTS = (
    ("Llegada del primer tren a Logroño", 1863, "Logroño"),
    ("Inauguración del Teatro Bretón", 1880, "Logroño"),
    ("Inauguración del Puente de Hierro", 1882, "Logroño"),
    ("Alumbrado eléctrico en las calles de Haro", 1890, "Haro"),
    ("Riada del Najerilla", 1906, "Nájera"),
    ("Visita real a Santo Domingo de la Calzada", 1913, "Santo Domingo de la Calzada"),
    ("Inauguración del frontón de Arnedo", 1924, "Arnedo"),
    ("Bendición de la nueva plaza de toros de Alfaro", 1926, "Alfaro"),
    ("Inauguración del grupo escolar de Calahorra", 1931, "Calahorra"),
    ("Gran nevada en Ezcaray", 1956, "Ezcaray"),
    ("Riada del Ebro en Logroño", 1961, "Logroño"),
    ("Inauguración del pantano de Ortigosa", 1964, "Torrecilla en Cameros"),
    ("Concentración de peñas en las fiestas de San Mateo", 1967, "Logroño"),
    ("Coronación de la Virgen de Vico", 1951, "Arnedo"),
    ("Inauguración de la fábrica de conservas de Autol", 1947, "Autol"),
    ("Llegada del agua corriente a Lardero", 1958, "Lardero"),
    ("Incendio de la fábrica de mantas de Ezcaray", 1936, "Ezcaray"),
    ("Primera vuelta ciclista a La Rioja", 1957, "Logroño"),
    ("Inauguración del puente nuevo de Briñas", 1972, "Briñas"),
    ("Apertura del instituto de Haro", 1977, "Haro"),
    ("Festival de jotas en Cenicero", 1983, "Cenicero"),
)
EVENTS_BY_YEAR = {year: [e for e in EVENTS if e[1] == year] for _, year, _ in EVENTS}
EVENT_SHARE = 0.15  # share of the records of an event's year whose title names the event instead
HOME_TOWN_SHARE = 0.6  # share of a local holder's photographs taken in its own town
PLACE_TILT_YEARS = 20.0  # a town is photographed up to twice as often within about this many years of its peak
# A town's peak year: spread over the archive's years by its position, so place says a little about the year.
PLACE_PEAKS = tuple(1870 + (37 * i) % 115 for i in range(len(PLACES)))
DESCRIPTION_SHARE = 0.2  # share of the records with a description (most have none on the real archive)
DATED_DESCRIPTION_SHARE = 0.3  # share of the descriptions that name a date
# title form -> weight; "decade" only from 1910 ("años 00" is not how the catalogue writes the 1900s)
TITLE_FORMS = {"plain": 64, "year": 12, "decade": 8, "circa": 7, "range": 4}
CIRCA_WORDS = ("hacia", "h.", "ca.", "c.")


@dataclass(frozen=True)
class RecordText:
    """What a record's page shows besides its identifier, holder and date, and the dates it names."""

    title: str  # the record's title
    place: str  # its "Lugar", as served
    description: str | None  # None: the page shows no description (most records)
    title_form: str  # "plain" | "year" | "decade" | "circa" | "range" | "event": what the title says of the date
    title_date: str | None  # the date phrase inside the title ("1932", "años 50", "hacia 1940", "1915-1920")
    event_year: int | None  # the year of the event an "event" title names
    description_date: str | None  # the date phrase inside the description, when it names one


@functools.cache
def _place_weights(year: int) -> tuple[float, ...]:
    return tuple(w * (1.0 + math.exp(-(((year - peak) / PLACE_TILT_YEARS) ** 2)))
                 for w, peak in zip(PLACE_WEIGHTS, PLACE_PEAKS, strict=True))


def _place(year: int, home_town: str | None, rng: random.Random) -> str:
    if home_town is not None and rng.random() < HOME_TOWN_SHARE:
        return home_town
    return rng.choices(PLACES, weights=_place_weights(year))[0]


def _title_date(form: str, year: int, rng: random.Random) -> tuple[str, str]:
    """(date phrase, title template with {subject} and {phrase}) for a dated title form."""
    decade = year - year % 10
    if form == "year":
        return str(year), rng.choice(("{subject}, {phrase}", "{subject} ({phrase})", "{subject} en {phrase}"))
    if form == "decade":
        phrases = [f"años {decade % 100:02d}", f"década de {decade}"]
        if decade % 100 in DECADE_WORDS_ES:
            phrases.append(f"años {DECADE_WORDS_ES[decade % 100]}")
        phrase = rng.choice(phrases)
        templates = ["{subject}, {phrase}", "{subject} ({phrase})"]
        if phrase.startswith("años"):
            templates.append("{subject} en los {phrase}")
        return phrase, rng.choice(templates)
    if form == "circa":
        return f"{rng.choice(CIRCA_WORDS)} {year + rng.randint(-3, 3)}", rng.choice(("{subject}, {phrase}",
                                                                                     "{subject} ({phrase})"))
    if form == "range":
        return f"{year - rng.randint(0, 4)}-{year + rng.randint(1, 4)}", rng.choice(("{subject}, {phrase}",
                                                                                     "{subject} ({phrase})"))
    raise ValueError(f"unknown title form {form!r}; expected one of {', '.join(TITLE_FORMS)}")


def _dated_sentence(year: int, rng: random.Random) -> tuple[str, str]:
    """(sentence, its date phrase) for a description that names the date."""
    forms = [("Fotografía tomada {phrase}.", f"hacia {year + rng.randint(-2, 2)}"),
             ("Según el reverso, {phrase}.", f"{rng.choice(MONTHS_ES)} de {year}")]
    if year >= 1910:
        forms.append(("Copia de los {phrase}.", f"años {(year - year % 10) % 100:02d}"))
    sentence, phrase = rng.choice(forms)
    return sentence.format(phrase=phrase), phrase


def record_text(year: int, home_town: str | None, rng: random.Random) -> RecordText:
    """Title, place and description of a photograph of `year` whose holder lives in `home_town` (None: nowhere)."""
    events = EVENTS_BY_YEAR.get(year, [])
    if events and rng.random() < EVENT_SHARE:
        name, event_year, town = rng.choice(events)
        form, subject, title, title_date, place = "event", name, name, None, town
    else:
        place = _place(year, home_town, rng)
        forms = {f: w for f, w in TITLE_FORMS.items() if f != "decade" or year >= 1910}
        form = rng.choices(list(forms), weights=list(forms.values()))[0]
        subject = _fill(rng.choice(SUBJECTS), rng, place)
        title, title_date, event_year = subject, None, None
        if form != "plain":
            title_date, template = _title_date(form, year, rng)
            title = template.format(subject=subject, phrase=title_date)
    lugar = place if rng.random() < 0.7 else f"{place} (La Rioja)"
    description, description_date = None, None
    if rng.random() < DESCRIPTION_SHARE:
        details = [_fill(d, rng, place) for d in rng.sample(DETAILS, rng.randint(1, 2))]
        if rng.random() < DATED_DESCRIPTION_SHARE:
            sentence, description_date = _dated_sentence(year, rng)
            details.append(sentence)
        description = f"{subject}. " + " ".join(details)
    return RecordText(title, lugar, description, form, title_date, event_year, description_date)
