"""Words, not ids: the policy's field labels and units and review titles are what people read."""

from __future__ import annotations

import re
from typing import Any

from policy import load_policy, load_policy_text
from tests.support import DEFAULT_POLICY


def test_the_default_policy_names_every_field_and_review_in_words() -> None:
    policy = load_policy(DEFAULT_POLICY)
    unnamed = [f"{c.name}.{f.name}" for c in policy.categories.values() for f in c.fields.values() if not f.label]
    assert unnamed == []
    assert all(c.title for c in policy.cadences.values())
    assert (
        policy.categories["quality_threshold"].fields["deviation_pct"].display == "Deviation from the quality bar (%)"
    )


def test_a_field_without_a_label_falls_back_to_its_id() -> None:
    text = DEFAULT_POLICY.read_text().replace("        label: Risk score\n        unit: of 100\n", "")
    field = load_policy_text(text, "p.yaml").categories["pipeline"].fields["risk_score"]
    assert field.display == "risk_score"


def test_forms_pages_and_digests_use_the_words(browser: Any) -> None:
    browser.sign_in("mei")
    form = browser.client.get("/new?category=quality_threshold").text
    assert "Deviation from the quality bar (%)" in form and ">deviation_pct" not in form
    filed = browser.submit(
        "/new?category=quality_threshold",
        "/new",
        {"category": "quality_threshold", "title": "Bound", "attr.deviation_pct": "3.5", "action": "file"},
    )
    assert filed.status_code == 200, filed.text[:300]
    page = filed.text
    assert "Deviation from the quality bar" in page and "3.5 %" in page
    digest = browser.client.get("/digests/weekly").text
    assert "Weekly operational sync" in digest and "weekly_sync," not in digest
    # The digest page names the category and the filer as the policy does; the ids are on hover.
    row = digest[digest.index(">Bound</a>") : digest.index("</tr>", digest.index(">Bound</a>"))]
    assert '<td data-label="Category"><span title="quality_threshold">quality threshold</span></td>' in row
    assert '<td data-label="Filer"><span title="mei">Mei (ML engineer)</span></td>' in row
    assert "quality threshold: 1" in re.sub(r"</?span[^>]*>", "", digest)
    assert ">quality_threshold<" not in digest and ">mei<" not in digest and "quality_threshold:" not in digest


def test_categories_read_as_words_in_the_list_the_page_and_the_form(browser: Any) -> None:
    browser.sign_in("mei")
    filed = browser.submit(
        "/new?category=quality_threshold",
        "/new",
        {"category": "quality_threshold", "title": "Bound", "attr.deviation_pct": "1.5", "action": "file"},
    )
    assert "<dt>Category</dt><dd>quality threshold" in filed.text
    listing = browser.client.get("/decisions").text
    assert '<span class="hint">quality threshold</span>' in listing
    assert '<option value="quality_threshold" >quality threshold</option>' in listing
    assert ">quality_threshold<" not in listing
    assert ">quality threshold — " in browser.client.get("/new").text
