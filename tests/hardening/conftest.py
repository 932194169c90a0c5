from tests.api.conftest import api  # noqa: F401  (the API client with a token per person, on both backends)
