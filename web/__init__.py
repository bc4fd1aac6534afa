"""The Flask layer over ``search()``: ``create_app()``; serve with ``python -m web``."""

from web._app import create_app

__all__ = ["create_app"]
