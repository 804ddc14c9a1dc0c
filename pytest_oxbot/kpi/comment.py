"""One KPI comment per pull request (GitHub) or merge request (GitLab), updated on every push.

A CI job that posts a new comment per push buries the review under stale tables. The comment carries a
hidden marker; the next run finds the comment with that marker and edits it, or creates it the first time.
The token is sent as a header only: it never appears in a URL, a message or an exception.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

import httpx

from pytest_oxbot.errors import KpiUsageError
from pytest_oxbot.kpi.errors import CommentError

MARKER = "<!-- pytest-oxbot: kpi report -->"
#: GitHub refuses comment bodies over 65,536 characters; GitLab's notes limit is larger (1,000,000).
MAX_BODY = 65_536
Provider = Literal["github", "gitlab"]
_PAGE = 100
_MAX_PAGES = 50


@dataclass(frozen=True)
class CommentTarget:
    """Where the comment goes: the forge's API root, the project, the request number and the token."""

    provider: Provider
    api_url: str
    project: str
    number: int
    token: str = field(repr=False)

    @classmethod
    def from_env(
        cls, provider: Provider, env: Mapping[str, str], *, number: int | None = None, token_var: str = ""
    ) -> CommentTarget:
        """The target a CI job runs for, from the variables GitHub Actions / GitLab CI set for every job."""
        if provider == "github":
            api, project, token_name = (
                env.get("GITHUB_API_URL", "https://api.github.com"),
                "GITHUB_REPOSITORY",
                "GITHUB_TOKEN",
            )
            found = re.fullmatch(r"refs/pull/(\d+)/(?:merge|head)", env.get("GITHUB_REF", ""))
            default_number = found.group(1) if found else ""
        elif provider == "gitlab":
            api, project, token_name = env.get("CI_API_V4_URL", ""), "CI_PROJECT_ID", "GITLAB_TOKEN"
            default_number = env.get("CI_MERGE_REQUEST_IID", "")
        else:
            raise KpiUsageError(f"unknown provider {provider!r}: github or gitlab")
        token_name = token_var or token_name
        missing = [name for name in (project, token_name) if not env.get(name)]
        if not api:
            missing.append("CI_API_V4_URL")
        if number is None and not default_number:
            missing.append("the request number (--number, or run in a pull/merge request pipeline)")
        if missing:
            raise KpiUsageError(f"cannot comment on {provider}: not set: {', '.join(missing)}")
        return cls(provider, api.rstrip("/"), env[project], number or int(default_number), env[token_name])


def body_of(markdown: str) -> str:
    """The comment body: the marker, then the report, cut to the forge's limit with a note saying so."""
    text = f"{MARKER}\n{markdown}"
    if len(text) <= MAX_BODY:
        return text
    note = "\n\n_(truncated to the forge's comment size limit; the full report is in the job's artefacts)_\n"
    return text[: MAX_BODY - len(note)] + note


def upsert(target: CommentTarget, markdown: str, *, client: httpx.Client | None = None) -> str:
    """Edit this tool's comment on the request, or create it; returns "updated" or "created"."""
    own = client or httpx.Client(timeout=httpx.Timeout(20.0))
    try:
        api = _Api(target, own)
        body = body_of(markdown)
        existing = next((c for c in api.comments() if MARKER in str(c.get("body", ""))), None)
        if existing is None:
            api.create(body)
            return "created"
        api.update(existing["id"], body)
        return "updated"
    except httpx.HTTPError as exc:
        raise CommentError(f"{target.provider}: {type(exc).__name__} talking to {target.api_url}") from None
    finally:
        if client is None:
            own.close()


class _Api:
    """The three calls per forge: list the request's comments, edit one, create one."""

    def __init__(self, target: CommentTarget, client: httpx.Client) -> None:
        self.target, self.client = target, client
        if target.provider == "github":
            self.headers = {
                "Authorization": f"Bearer {target.token}",
                "Accept": "application/vnd.github+json",
            }
            self.list_url = f"{target.api_url}/repos/{target.project}/issues/{target.number}/comments"
            self.edit_url = f"{target.api_url}/repos/{target.project}/issues/comments/{{id}}"
            self.edit_method = "PATCH"
        else:
            project = quote(target.project, safe="")  # a numeric id, or "group/project" encoded
            self.headers = {"PRIVATE-TOKEN": target.token}
            self.list_url = f"{target.api_url}/projects/{project}/merge_requests/{target.number}/notes"
            self.edit_url = self.list_url + "/{id}"
            self.edit_method = "PUT"

    def comments(self) -> Iterator[dict[str, Any]]:
        for page in range(1, _MAX_PAGES + 1):
            batch = self._call("GET", self.list_url, params={"per_page": _PAGE, "page": page})
            if not isinstance(batch, list):
                raise CommentError(f"{self.target.provider}: the comment list is not a JSON list")
            yield from (c for c in batch if isinstance(c, dict))
            if len(batch) < _PAGE:
                return

    def create(self, body: str) -> None:
        self._call("POST", self.list_url, json={"body": body})

    def update(self, comment_id: object, body: str) -> None:
        if not isinstance(comment_id, int):
            raise CommentError(f"{self.target.provider}: a comment id that is not a number: {comment_id!r}")
        self._call(self.edit_method, self.edit_url.format(id=comment_id), json={"body": body})

    def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self.client.request(method, url, headers=self.headers, **kwargs)
        if response.status_code >= 400:
            hint = (
                " (check the token's scope: pull-requests: write / api)"
                if response.status_code in (401, 403)
                else ""
            )
            raise CommentError(
                f"{self.target.provider}: {method} {response.url.path} -> HTTP {response.status_code}{hint}"
            )
        return response.json() if response.content else None
