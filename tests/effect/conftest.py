from tests.api.conftest import api  # noqa: F401  (the API client fixture)
from tests.web.conftest import browser  # noqa: F401  (the signed-in browser fixture)
