"""Which commit and branch a run measured: from the CI's variables when present, else from git.

The caller passes the environment mapping in (only the plugin and the CLI read `os.environ`). A CI
checkout is usually a detached HEAD, so the CI's own variables win over `git rev-parse`; outside CI,
git answers; with neither (no git, not a repository) both are None and the run is still recorded.
URLs are redacted: a CI URL must never carry a token into a committed history file.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from pytest_oxbot._urls import redact_url

GIT_TIMEOUT_S = 5.0


class VcsInfo(NamedTuple):
    commit: str | None = None
    branch: str | None = None
    ci_provider: str | None = None
    ci_run_id: str | None = None
    ci_url: str | None = None


def _first(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return value
    return None


def from_ci(env: Mapping[str, str]) -> VcsInfo:
    """GitHub Actions, GitLab CI, CircleCI, Buildkite, Azure Pipelines, Jenkins; empty elsewhere.

    In a GitHub pull-request run, GITHUB_SHA is the merge commit GitHub made (the PR head is not in the
    environment) and the branch is the PR's head branch (GITHUB_HEAD_REF).
    """
    if env.get("GITHUB_ACTIONS") == "true" or "GITHUB_SHA" in env:
        run_id = _first(env, "GITHUB_RUN_ID")
        server, repo = _first(env, "GITHUB_SERVER_URL"), _first(env, "GITHUB_REPOSITORY")
        url = f"{server}/{repo}/actions/runs/{run_id}" if server and repo and run_id else None
        branch = _first(env, "GITHUB_HEAD_REF", "GITHUB_REF_NAME")
        return VcsInfo(_first(env, "GITHUB_SHA"), branch, "github", run_id, redact_url(url))
    if env.get("GITLAB_CI") or "CI_COMMIT_SHA" in env:
        branch = _first(env, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "CI_COMMIT_BRANCH", "CI_COMMIT_REF_NAME")
        url = redact_url(_first(env, "CI_PIPELINE_URL"))
        return VcsInfo(_first(env, "CI_COMMIT_SHA"), branch, "gitlab", _first(env, "CI_PIPELINE_ID"), url)
    if env.get("CIRCLECI"):
        url = redact_url(_first(env, "CIRCLE_BUILD_URL"))
        return VcsInfo(
            _first(env, "CIRCLE_SHA1"),
            _first(env, "CIRCLE_BRANCH"),
            "circleci",
            _first(env, "CIRCLE_BUILD_NUM"),
            url,
        )
    if env.get("BUILDKITE"):
        url = redact_url(_first(env, "BUILDKITE_BUILD_URL"))
        return VcsInfo(
            _first(env, "BUILDKITE_COMMIT"),
            _first(env, "BUILDKITE_BRANCH"),
            "buildkite",
            _first(env, "BUILDKITE_BUILD_NUMBER"),
            url,
        )
    if env.get("TF_BUILD"):
        return VcsInfo(
            _first(env, "BUILD_SOURCEVERSION"),
            _first(env, "SYSTEM_PULLREQUEST_SOURCEBRANCH", "BUILD_SOURCEBRANCHNAME"),
            "azure",
            _first(env, "BUILD_BUILDID"),
        )
    if env.get("JENKINS_URL"):
        url = redact_url(_first(env, "BUILD_URL"))
        branch = _first(env, "CHANGE_BRANCH", "BRANCH_NAME", "GIT_BRANCH")
        return VcsInfo(_first(env, "GIT_COMMIT"), branch, "jenkins", _first(env, "BUILD_NUMBER"), url)
    return VcsInfo()


def _git(cwd: Path, *args: str) -> str | None:
    git = shutil.which("git")
    if git is None:
        return None
    try:
        done = subprocess.run(  # noqa: S603 - git with our own fixed arguments
            [git, *args], cwd=cwd, capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.SubprocessError):  # no git, no such directory, a hung git
        return None
    out = done.stdout.strip()
    return out if done.returncode == 0 and out else None


def from_git(cwd: Path) -> VcsInfo:
    """HEAD's SHA and branch in `cwd` (branch None on a detached HEAD); empty outside a repository."""
    commit = _git(cwd, "rev-parse", "HEAD")
    if commit is None:
        return VcsInfo()
    branch = _git(cwd, "rev-parse", "--abbrev-ref", "HEAD")
    return VcsInfo(commit, None if branch == "HEAD" else branch)


def detect(env: Mapping[str, str], cwd: Path) -> VcsInfo:
    """The CI's view where it has one, completed by git's."""
    ci = from_ci(env)
    if ci.commit and ci.branch:
        return ci
    git = from_git(cwd)
    return ci._replace(commit=ci.commit or git.commit, branch=ci.branch or git.branch)
