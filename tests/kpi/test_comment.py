"""One KPI comment per pull/merge request, edited on every push, against a fake forge on a real socket."""

from __future__ import annotations

import pytest

from pytest_oxbot.errors import KpiUsageError, OxbotError
from pytest_oxbot.kpi.comment import MARKER, MAX_BODY, CommentTarget, body_of, upsert
from pytest_oxbot.kpi.errors import CommentError
from tests.kpi.forge import TOKEN, serve_forge


def _github(url: str, token: str = TOKEN) -> CommentTarget:
    return CommentTarget("github", url, "acme/bot", 7, token)


def _gitlab(url: str) -> CommentTarget:
    return CommentTarget("gitlab", f"{url}/api/v4", "acme/trading/bot", 12, TOKEN)


@pytest.mark.parametrize("target", [_github, _gitlab], ids=["github", "gitlab"])
def test_first_push_creates_later_pushes_edit_the_same_comment(target) -> None:  # type: ignore[no-untyped-def]
    with serve_forge() as forge:
        forge.add("LGTM")  # someone else's comment, never touched
        assert upsert(target(forge.url), "| kpi | 1 |") == "created"
        assert upsert(target(forge.url), "| kpi | 2 |") == "updated"
        assert upsert(target(forge.url), "| kpi | 3 |") == "updated"
    assert [c["body"] for c in forge.comments] == ["LGTM", f"{MARKER}\n| kpi | 3 |"]


def test_gitlab_project_path_is_encoded_as_one_segment() -> None:
    with serve_forge() as forge:
        upsert(_gitlab(forge.url), "x")
    assert ("POST", "/api/v4/projects/acme/trading/bot/merge_requests/12/notes") in forge.calls
    assert all(path.count("/merge_requests/") == 1 for _, path in forge.calls)


def test_the_comment_is_found_beyond_the_first_page() -> None:
    with serve_forge() as forge:
        for i in range(130):
            forge.add(f"chatter {i}")
        forge.comments.insert(120, {"id": 1, "body": f"{MARKER}\nold table"})
        assert upsert(_github(forge.url), "new table") == "updated"
    assert sum(MARKER in c["body"] for c in forge.comments) == 1
    assert forge.comments[120]["body"].endswith("new table")


def test_a_refused_token_is_an_error_that_never_shows_the_token() -> None:
    with serve_forge() as forge, pytest.raises(CommentError) as caught:
        upsert(_github(forge.url, token="wrong-token-123"), "x")
    assert "HTTP 401" in str(caught.value)
    assert "token" in str(caught.value)
    assert "wrong-token-123" not in str(caught.value)
    assert "wrong-token-123" not in repr(caught.value)
    assert isinstance(caught.value, OxbotError)
    assert "wrong-token-123" not in repr(_github("http://x", token="wrong-token-123"))


def test_an_unreachable_forge_is_a_comment_error() -> None:
    with serve_forge() as forge:
        url = forge.url
    with pytest.raises(CommentError, match="ConnectError"):
        upsert(_github(url), "x")


def test_a_huge_report_is_cut_to_the_forge_limit_with_a_note() -> None:
    body = body_of("| row |\n" * 20_000)
    assert len(body) <= MAX_BODY
    assert body.startswith(MARKER)
    assert "truncated" in body


def test_targets_from_the_ci_variables() -> None:
    github = CommentTarget.from_env(
        "github",
        {"GITHUB_REPOSITORY": "acme/bot", "GITHUB_TOKEN": TOKEN, "GITHUB_REF": "refs/pull/42/merge"},
    )
    assert (github.api_url, github.project, github.number) == ("https://api.github.com", "acme/bot", 42)
    gitlab = CommentTarget.from_env(
        "gitlab",
        {
            "CI_API_V4_URL": "https://gitlab.example/api/v4/",
            "CI_PROJECT_ID": "99",
            "CI_MERGE_REQUEST_IID": "5",
            "OXBOT_NOTE_TOKEN": TOKEN,
        },
        token_var="OXBOT_NOTE_TOKEN",
    )
    assert (gitlab.api_url, gitlab.project, gitlab.number) == ("https://gitlab.example/api/v4", "99", 5)


def test_missing_ci_variables_are_named() -> None:
    with pytest.raises(KpiUsageError, match=r"GITHUB_TOKEN.*request number"):
        CommentTarget.from_env("github", {"GITHUB_REPOSITORY": "acme/bot", "GITHUB_REF": "refs/heads/main"})
