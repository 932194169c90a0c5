from tests.api.conftest import api  # noqa: F401  (the HTTP fixture, shared with tests/api)
