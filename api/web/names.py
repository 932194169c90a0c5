"""People on the pages as the policy names them, the id on hover: `<span title="mei">Mei (ML engineer)</span>`.

The words come from engine.words (as the digests' do); the markup is built with Markup.format, so a display name
from the policy is escaped like any user text. Form values, links, filters and the JSON API keep the ids.
"""

from __future__ import annotations

from markupsafe import Markup

from engine.words import html_named, person_words
from policy.compiled import Policy


def person_element(policy: Policy | None, name: str) -> Markup:
    """A person by their display name with the id in a title attribute; by the id alone, escaped, when the
    policy gives no other name (someone it does not know, or `system`): there is nothing to hover for."""
    return html_named(person_words(policy, name), name)
