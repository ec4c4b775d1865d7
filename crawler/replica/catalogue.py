"""The replica's catalogue text: Spanish titles, holders, places of La Rioja and messy dates.

Every date string is built around a catalogued year and is read back by db.dates.parse_date to
a range that contains that year; "no date" and "unparseable" strings read back as unknown.
"""

from __future__ import annotations

import random
from collections.abc import Callable

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


def catalogue_text(rng: random.Random) -> dict[str, str]:
    """Title, holder, place and description of one photograph (keys: the canonical labels)."""
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
