"""Categories and people as the policy names them: what pages, digests and messages show people.

Ids stay the data (JSON, links, form values, filters); these are the words a reader sees instead. The words are
plain text: each destination escapes them for its own syntax (Jinja's autoescape, `text_safety.markdown_inline`);
`html_named` is the one piece of HTML, built with Markup.format, which escapes both.
"""

from __future__ import annotations

from collections.abc import Callable

from markupsafe import Markup, escape

from policy.compiled import Policy


def category_words(policy: Policy | None, name: str) -> str:
    """A category the policy knows, in words: its label if it has one, else its name without underscores
    ("quality threshold"). One it does not know has no name but the one it was filed under: shown as filed."""
    category = policy.categories.get(name) if policy is not None else None
    if category is None:
        return name
    label = getattr(category, "label", None)
    return str(label or name.replace("_", " "))


def person_words(policy: Policy | None, name: str) -> str:
    """A person as the directory names them ("Mei (ML engineer)"), else by their id."""
    person = policy.people.get(name) if policy is not None else None
    return str(getattr(person, "display_name", None) or name)


def says_the_id(words: str, name: str) -> bool:
    """Whether `words` already tell a reader the id (`Dana` for dana, `quality threshold` for quality_threshold):
    then repeating the id beside them adds nothing."""
    return words.casefold() == name.replace("_", " ").casefold() or words == name


def _as_is(text: str) -> str:
    return text


def html_named(words: str, name: str, shown: Callable[[str], str] = _as_is) -> Markup:
    """`words` in HTML with the id `name` on hover (`<span title="mei">Mei (ML engineer)</span>`); the id alone,
    escaped, when the words are the id (nothing to hover for). `shown`: what the medium does to text before it
    is escaped (the digest e-mail defangs URLs)."""
    if words == name:
        return escape(shown(name))
    return Markup('<span title="{}">{}</span>').format(name, shown(words))
