"""The identity provider as this service sees it: its discovery document and its signing keys.

Both are fetched over HTTP and cached. The key set is fetched again when a token names a key id
it does not hold (the provider rotated its keys), at most once per `refresh_seconds` so that
tokens with made-up key ids cannot make us hammer the provider, and once an hour regardless so
that a key the provider withdrew stops being trusted.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import httpx
from joserfc.jwk import KeySet

from api.oidc.settings import OidcSettings

#: A key set older than this is fetched again before use.
JWKS_MAX_AGE_SECONDS = 3600.0
HTTP_TIMEOUT_SECONDS = 5.0


class ProviderUnavailable(Exception):
    """The provider's discovery document or keys could not be fetched (an outage, not a bad token)."""


class Provider:
    def __init__(self, settings: OidcSettings) -> None:
        self.settings = settings
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._lock = anyio.Lock()

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as http:
                response = await http.get(url, headers={"Accept": "application/json"})
                response.raise_for_status()
                body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnavailable(f"the identity provider did not answer {url}: {exc}") from exc
        if not isinstance(body, dict):
            raise ProviderUnavailable(f"the identity provider's {url} is not a JSON object")
        return body

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            metadata = await self._get_json(self.settings.discovery_url)
            # OpenID Connect Discovery 1.0 section 4.3: the document must name the issuer we asked.
            if str(metadata.get("issuer", "")).rstrip("/") != self.settings.issuer.rstrip("/"):
                raise ProviderUnavailable(
                    f"the discovery document names issuer {metadata.get('issuer')!r}, not {self.settings.issuer!r}"
                )
            if not metadata.get("jwks_uri"):
                raise ProviderUnavailable("the discovery document has no jwks_uri")
            self._metadata = metadata
        return self._metadata

    @property
    def issuer(self) -> str:
        """The issuer exactly as the provider spells it (tokens' `iss` must equal it)."""
        return str((self._metadata or {}).get("issuer") or self.settings.issuer)

    async def keys(self, *, unknown_kid: bool = False) -> tuple[KeySet, bool]:
        """The key set, and whether it was fetched just now (a retry with it could change the answer)."""
        async with self._lock:
            age = time.monotonic() - self._fetched_at
            stale = self._keys is None or age >= JWKS_MAX_AGE_SECONDS
            if stale or (unknown_kid and age >= self.settings.jwks_refresh_seconds):
                metadata = await self.metadata()
                document = await self._get_json(str(metadata["jwks_uri"]))
                try:
                    self._keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
                except Exception as exc:  # joserfc raises several kinds for a malformed set
                    raise ProviderUnavailable(f"the identity provider's key set does not load: {exc}") from exc
                self._fetched_at = time.monotonic()
                return self._keys, True
            assert self._keys is not None
            return self._keys, False
