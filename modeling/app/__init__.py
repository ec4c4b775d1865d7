"""The web app: date one photograph in the browser, a JSON API, and the archive's records by disagreement."""

from modeling.app.server import AppConfig, create_app, serve

__all__ = ["AppConfig", "create_app", "serve"]
