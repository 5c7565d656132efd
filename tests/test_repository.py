"""What ships beside the code: the Dockerfile, the pinned constraints CI shares with it, the docs."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ".ci/constraints.txt"
CODE = ("dispatch", "gateways", "state_machines", "web")
REFRESH = f"run the command in the header of {CONSTRAINTS}"


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions in order, as (KEYWORD, arguments), continuations joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            instructions.append((keyword.upper(), " ".join(arguments.split())))
    return instructions


def copied(arguments: str) -> list[str]:
    """The sources of a COPY (every word but the destination and --flags)."""
    words = [word for word in shlex.split(arguments) if not word.startswith("--")]
    return [word.rstrip("/") for word in words[:-1]]


def first_code_copy(instructions: list[tuple[str, str]]) -> int:
    return next(
        index
        for index, (keyword, arguments) in enumerate(instructions)
        if keyword == "COPY" and set(copied(arguments)) & set(CODE)
    )


def test_dockerfile_installs_pinned_dependencies_before_the_code_is_copied() -> None:
    instructions = dockerfile()
    installs = [
        i
        for i, (keyword, arguments) in enumerate(instructions)
        if keyword == "RUN" and "pip install" in arguments
    ]
    code = first_code_copy(instructions)
    dependencies = installs[0]

    assert dependencies < code, "the dependencies are installed in a layer before the code is copied"
    sources = {
        source
        for keyword, arguments in instructions[:dependencies]
        if keyword == "COPY"
        for source in copied(arguments)
    }
    assert sources == {"pyproject.toml", CONSTRAINTS}, "only what the dependencies need comes first"
    project = [i for i in installs if i > code]
    assert project, "the project itself is installed after its code is copied"
    assert all("--no-deps" in instructions[i][1] for i in project), "the code's layer resolves nothing"
    assert all(f"-c {CONSTRAINTS}" in instructions[i][1] for i in installs if i < code)


def test_dockerfile_healthcheck_asks_readiness() -> None:
    [healthcheck] = [arguments for keyword, arguments in dockerfile() if keyword == "HEALTHCHECK"]

    assert "/readyz" in healthcheck
    assert "/healthz" not in healthcheck


def test_ci_installs_with_the_constraints_the_image_uses() -> None:
    script = (ROOT / ".ci/run").read_text()

    assert f"pip install --quiet -c {CONSTRAINTS} -e '.[test]'" in script


def declared_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared.extend(extra)
    return [Requirement(each) for each in declared]


def pins() -> dict[str, str]:
    pinned: dict[str, str] = {}
    for line in (ROOT / CONSTRAINTS).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, separator, version = line.partition("==")
            assert separator, f"{CONSTRAINTS}: {line!r} is not pinned with =="
            pinned[canonicalize_name(name)] = version
    return pinned


def test_constraints_pin_every_declared_dependency_at_a_version_it_allows() -> None:
    pinned = pins()

    for requirement in declared_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement.name} is not in {CONSTRAINTS}; {REFRESH}"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{CONSTRAINTS} pins {name}=={pinned[name]}, outside {requirement}; {REFRESH}"
        )


def test_constraints_say_how_to_refresh_them() -> None:
    header = (ROOT / CONSTRAINTS).read_text().split("\n\n", 1)[0]

    assert "pip freeze --exclude-editable" in header


DOCUMENTS = ["README.md", *sorted(str(path.relative_to(ROOT)) for path in (ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_docs_refer_to_nothing_outside_the_repository(document: str) -> None:
    text = (ROOT / document).read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    local = [
        link.split("#", 1)[0] for link in links if not re.match(r"[a-z]+:", link) and not link.startswith("#")
    ]

    for link in local:
        target = ((ROOT / document).parent / link).resolve()
        assert target.is_relative_to(ROOT), f"{document} links outside the repository: {link}"
        assert target.exists(), f"{document} links to a missing file: {link}"
    for outside in ("DESIGN.md", "STYLE.md", "../shared", "§"):
        assert outside not in text, f"{document} refers to {outside!r}, which a user of the repository lacks"
