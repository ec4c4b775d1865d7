"""The page's words in Spanish (the archive's language, the default) and English.

Templates read `t.<key>`; the language comes from `?lang=es|en`.
"""

from __future__ import annotations

DEFAULT_LANG = "es"

STRINGS: dict[str, dict[str, str]] = {
    "es": {
        "title": "Fechar fotografías",
        "tagline": "Suelte una fotografía antigua y el modelo estimará su época.",
        "nav_predict": "Fechar una foto",
        "nav_records": "Registros del archivo",
        "drop_here": "Arrastre una fotografía aquí",
        "or": "o",
        "pick_file": "elija un archivo",
        "formats": "JPEG, PNG, WebP, TIFF… hasta {size}",
        "submit": "Fechar",
        "working": "Analizando la fotografía…",
        "period": "Época probable",
        "estimated_year": "Año estimado",
        "interval": "Intervalo al {level} %",
        "probability": "probabilidad",
        "model": "Modelo",
        "architecture": "Arquitectura",
        "task": "Tarea",
        "task_classify": "clasificación por periodos",
        "task_regress": "regresión del año",
        "accuracy": "Exactitud (validación)",
        "mae": "Error medio (validación)",
        "years": "años",
        "year_one": "año",
        "periods": "Periodos",
        "error": "No se pudo fechar la fotografía",
        "try_another": "Pruebe con otra fotografía.",
        "your_photo": "Su fotografía",
        "records_title": "Registros del archivo",
        "records_intro": "La fecha catalogada junto a la estimación del modelo. Ordene por discrepancia para encontrar registros cuya fecha probablemente sea errónea.",
        "sort_by": "Ordenar por",
        "sort_disagreement": "discrepancia",
        "sort_year": "año catalogado",
        "sort_id": "identificador",
        "col_photo": "Foto",
        "col_record": "Registro",
        "col_catalogued": "Fecha catalogada",
        "col_estimate": "Estimación del modelo",
        "col_disagreement": "Discrepancia",
        "no_date": "sin fecha",
        "no_image": "sin imagen",
        "image_failed": "imagen no disponible",
        "suspect": "fuera del intervalo del modelo",
        "page": "Página {page} de {pages}",
        "previous": "Anterior",
        "next": "Siguiente",
        "no_records": "No hay registros todavía. Ejecute «cli.py crawl» para cosechar el archivo.",
        "no_database": "No hay base de datos en {url}. Ejecute «cli.py crawl» o indique --db.",
        "records_count": "{n} registros",
        "dating_progress": "Fechadas {done} de {total} fotografías; la lista se completa a medida que el modelo trabaja.",
        "pending": "pendiente de fechar",
        "language": "Idioma",
        "footer": "Las estimaciones son orientativas: compárelas con la fuente antes de corregir un catálogo.",
    },
    "en": {
        "title": "Date photographs",
        "tagline": "Drop an old photograph and the model will estimate its period.",
        "nav_predict": "Date a photo",
        "nav_records": "Archive records",
        "drop_here": "Drop a photograph here",
        "or": "or",
        "pick_file": "choose a file",
        "formats": "JPEG, PNG, WebP, TIFF… up to {size}",
        "submit": "Date it",
        "working": "Looking at the photograph…",
        "period": "Likely period",
        "estimated_year": "Estimated year",
        "interval": "{level}% interval",
        "probability": "probability",
        "model": "Model",
        "architecture": "Architecture",
        "task": "Task",
        "task_classify": "period classification",
        "task_regress": "year regression",
        "accuracy": "Accuracy (validation)",
        "mae": "Mean error (validation)",
        "years": "years",
        "year_one": "year",
        "periods": "Periods",
        "error": "The photograph could not be dated",
        "try_another": "Try another photograph.",
        "your_photo": "Your photograph",
        "records_title": "Archive records",
        "records_intro": "The catalogued date beside the model's estimate. Sort by disagreement to find records whose date is probably wrong.",
        "sort_by": "Sort by",
        "sort_disagreement": "disagreement",
        "sort_year": "catalogued year",
        "sort_id": "identifier",
        "col_photo": "Photo",
        "col_record": "Record",
        "col_catalogued": "Catalogued date",
        "col_estimate": "Model estimate",
        "col_disagreement": "Disagreement",
        "no_date": "no date",
        "no_image": "no image",
        "image_failed": "image unavailable",
        "suspect": "outside the model's interval",
        "page": "Page {page} of {pages}",
        "previous": "Previous",
        "next": "Next",
        "no_records": "No records yet. Run 'cli.py crawl' to harvest the archive.",
        "no_database": "No database at {url}. Run 'cli.py crawl' or pass --db.",
        "records_count": "{n} records",
        "dating_progress": "Dated {done} of {total} photographs; the list fills in as the model works.",
        "pending": "not dated yet",
        "language": "Language",
        "footer": "Estimates are a guide: check the source before correcting a catalogue.",
    },
}

LANGUAGES = tuple(STRINGS)


def pick_language(requested: str | None) -> str:
    """The supported language for `?lang=` (case-insensitive), else the default.

    >>> pick_language("EN"), pick_language("fr"), pick_language(None)
    ('en', 'es', 'es')
    """
    lang = (requested or "").strip().lower()
    return lang if lang in STRINGS else DEFAULT_LANG


def strings(lang: str) -> dict[str, str]:
    """Every label of the page in `lang` (a supported language code)."""
    return STRINGS[lang]
