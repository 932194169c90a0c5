"""ASGI entry point for uvicorn (`decisions serve`): configured from the environment."""

from api.app import create_app

app = create_app(freeze_heap=True)
