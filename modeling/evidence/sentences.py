"""What an answer rests on, in plain words, Spanish and English side by side (one function per source).

>>> holder_evidence("holder", "Foto Ruiz", 48, 1915, 1932).en
'holder Foto Ruiz: 48 dated photographs, 1915-1932'
"""

from __future__ import annotations

from modeling.answer import Evidence


def picture_evidence(low: int, high: int) -> Evidence:
    return Evidence("picture", f"la imagen: {low}-{high}", f"the picture: {low}-{high}")


def text_evidence(low: int, high: int) -> Evidence:
    return Evidence("text", f"el título y la descripción se parecen a los de fotografías de {low}-{high}",
                    f"the title and description read like those of photographs from {low}-{high}")


def people_evidence(low: int, high: int) -> Evidence:
    """What the faces and figures found in the picture suggest (their clothes, hair and poses)."""
    return Evidence("people", f"las personas: {low}-{high}", f"the people in it: {low}-{high}")


def explicit_evidence(field: str, phrase: str) -> Evidence:
    es_field, en_field = ("el título", "the title") if field == "title" else ("la descripción", "the description")
    return Evidence("explicit_date", f"{es_field} dice «{phrase}»", f'{en_field} says "{phrase}"')


def holder_evidence(source: str, name: str, n: int, first: int, last: int) -> Evidence:
    """`source` is holder or place: what the dated records of the same holder (or place) say."""
    es_kind, en_kind = ("titular", "holder") if source == "holder" else ("lugar", "place")
    span = f"{first}" if first == last else f"{first}-{last}"
    es_n = "1 fotografía fechada" if n == 1 else f"{n} fotografías fechadas"
    en_n = "1 dated photograph" if n == 1 else f"{n} dated photographs"
    return Evidence(source, f"{es_kind} {name}: {es_n}, {span}", f"{en_kind} {name}: {en_n}, {span}")
