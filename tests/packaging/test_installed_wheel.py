"""The wheel, installed into a fresh venv and run from an empty directory with no repository in
sight, does what the README's first hour does: init, db upgrade, token, serve, and every kind of
page and endpoint answers (templates, static files, the API reference's assets, migrations)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.served import Served
from tests.support import REPO

PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]


def _source_tree(into: Path) -> Path:
    """The files git would ship (tracked, or new and not ignored): a build from the working directory
    could pick up stale build/ output or files that are not in the repository."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    tree = into / "src"
    for name in filter(None, listed):
        source, target = REPO / name, tree / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree, not yet in git
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    return tree


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding only the wheel; the service's dependencies come from this venv's site-packages
    through a .pth line (a plain path: the .pth files there, such as the editable install's, do not run)."""
    home = tmp_path_factory.mktemp("wheel")
    wheels = home / "wheels"
    # No build isolation: setuptools from this venv, so the build needs no network.
    subprocess.run(
        [*PIP, "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(wheels), str(_source_tree(home))],
        check=True, timeout=300,
    )  # fmt: skip
    (wheel,) = wheels.glob("decision_rights-*.whl")
    venv = home / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([*PIP, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)], check=True)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    (Path(site) / "_service_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


@pytest.fixture
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("empty")


def _env(venv: Path, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "DECISIONS_"))}
    env.pop("DATABASE_URL", None)
    return {
        **env,
        "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        "DATABASE_URL": f"sqlite:///{workdir / 'decisions.db'}",
        "DECISIONS_STATE_DIR": str(workdir / "state"),
    }


def decisions(venv: Path, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "decisions"), *args],
        cwd=workdir, env=_env(venv, workdir), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_installed_package_imports_from_its_venv_not_the_repository(installed: Path, workdir: Path) -> None:
    run = subprocess.run(
        [str(installed / "bin" / "python"), "-c",
         "import api, engine, policy, migrations; print(api.__file__, engine.__file__, policy.__file__, "
         "migrations.__file__, sep='\\n')"],
        cwd=workdir, env=_env(installed, workdir), capture_output=True, text=True, check=True,
    )  # fmt: skip
    for location in run.stdout.split():
        assert Path(location).is_relative_to(installed), location
        assert not Path(location).is_relative_to(REPO), location


def test_version_and_init_then_init_refuses_to_overwrite(installed: Path, workdir: Path) -> None:
    version = decisions(installed, workdir, "--version")
    assert version.returncode == 0 and re.fullmatch(r"decisions \d+\.\d+\.\d+\S*\n", version.stdout), version
    first = decisions(installed, workdir, "init")
    assert first.returncode == 0, first.stderr
    written = (workdir / "policies.yaml").read_text()
    assert written == (REPO / "policies.yaml").read_text()
    assert written.startswith("#")  # commented for the person who edits it
    (workdir / "policies.yaml").write_text(written + "# my edit\n")
    again = decisions(installed, workdir, "init")
    assert again.returncode == 1 and "already exists" in again.stderr
    assert (workdir / "policies.yaml").read_text().endswith("# my edit\n")
    assert decisions(installed, workdir, "policy", "check").returncode == 0


@pytest.fixture
def served(installed: Path, workdir: Path) -> Iterator[tuple[str, str]]:
    assert decisions(installed, workdir, "init").returncode == 0
    upgrade = decisions(installed, workdir, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    token = decisions(installed, workdir, "token", "create", "adm")
    assert token.returncode == 0, token.stderr
    secret = re.search(r"drt_\S+", token.stdout)
    assert secret is not None, token.stdout
    # The README's command as it stands: no --host (the CLI's default), run from the empty directory.
    server = Served(
        _env(installed, workdir),
        workdir / "serve.log",
        executable=str(installed / "bin" / "decisions"),
        host=None,
        cwd=workdir,
        new_session=True,
    )
    with server.start(within=20):
        yield server.url, secret.group(0)


def test_pages_reference_and_endpoints_answer_from_the_installed_package(served: tuple[str, str]) -> None:
    url, token = served
    with httpx.Client(base_url=url, timeout=10) as web:
        login = web.get("/login")
        assert login.status_code == 200, login.text
        csrf = re.search(r'name="_csrf_token" value="([^"]+)"', login.text)
        assert csrf is not None, login.text
        signed_in = web.post("/login", data={"token": token, "next": "/", "_csrf_token": csrf.group(1)})
        assert signed_in.status_code == 303, signed_in.text
        for page in ["/inbox", "/decisions", "/new", "/digests/weekly", "/audit", "/static/site.css"]:
            response = web.get(page)
            assert response.status_code == 200, (page, response.text[:300])

        reference = web.get("/schema")
        assert reference.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+)"', reference.text)
        assert assets and all(a.startswith("/static/swagger-ui/") for a in assets), assets  # nothing from a CDN
        for asset in assets:
            assert web.get(asset).status_code == 200, asset
        assert web.get("/schema/openapi.json").json()["paths"]

    api = httpx.Client(base_url=url, timeout=10, headers={"Authorization": f"Bearer {token}"})
    with api:
        filed = api.post("/v1/decisions", json={"title": "Try the install", "category": "contract",
                                                "attributes": {"change": "scope"}})  # fmt: skip
        assert filed.status_code == 201, filed.text
        for path, media in [
            ("/v1/digests/weekly?format=html", "text/html"),
            ("/v1/digests/weekly?format=md", "text/markdown"),
            ("/v1/metrics/escalations?format=html", "text/html"),
            ("/v1/decisions", "application/json"),
            ("/v1/policy", "application/json"),
            ("/v1/log/verify", "application/json"),
        ]:
            response = api.get(path)
            assert response.status_code == 200, (path, response.text[:300])
            assert response.headers["content-type"].startswith(media), path
