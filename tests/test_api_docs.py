"""docs/api.md is generated from the docstrings, is up to date, and every export is documented.

The generator lives in scripts/gen_api_docs.py; these tests run it for real
(in a subprocess, as a developer would) and also check its docstring and
signature rendering on small inputs. The project-level guides (security,
configuration) are checked too: every test they cite exists, every link resolves.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import junco

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "gen_api_docs.py"
DOCS = ROOT / "docs"
API_MD = DOCS / "api.md"
GUIDES = ("security", "configuration")
RERUN = "run `python scripts/gen_api_docs.py` to regenerate it"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_api_docs", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being created
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


def _diff(expected: str, actual: str) -> str:
    lines = difflib.unified_diff(
        expected.splitlines(), actual.splitlines(), "docs/api.md", "generated", lineterm="", n=1
    )
    return "\n".join(list(lines)[:40])


# -- docs/api.md ---------------------------------------------------------------------------


@pytest.mark.parametrize("hash_seed", ["0", "4242"])
def test_api_md_is_up_to_date(tmp_path: Path, hash_seed: str) -> None:
    out = tmp_path / "api.md"
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    subprocess.run(
        [sys.executable, str(SCRIPT), "--output", str(out)],
        check=True,
        cwd=tmp_path,  # the output must not depend on where it is run from
        env=env,
        capture_output=True,
    )
    generated = out.read_bytes()
    committed = API_MD.read_bytes() if API_MD.is_file() else b""
    assert generated == committed, f"docs/api.md is out of date: {RERUN}\n" + _diff(
        committed.decode("utf-8"), generated.decode("utf-8")
    )


def test_check_flag_reports_a_stale_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "api.md"
    stale.write_text("# stale\n", encoding="utf-8")
    assert gen.main(["--check", "--output", str(stale)]) == 1
    assert "python scripts/gen_api_docs.py" in capsys.readouterr().err
    assert gen.main(["--output", str(stale)]) == 0
    assert gen.main(["--check", "--output", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8").startswith("# API reference\n")


def test_every_export_of_junco_has_a_docstring() -> None:
    missing = [name for name in junco.__all__ if not gen.docstring_of(junco, name).strip()]
    assert not missing, f"public names without a docstring: {missing}"


def test_the_page_covers_every_existing_module_and_export() -> None:
    text = API_MD.read_text(encoding="utf-8")
    modules, missing = gen.load_modules(gen.MODULES)
    assert modules[0] is junco
    for module in modules:
        assert f'<a id="{module.__name__}"></a>' in text, f"{module.__name__}: {RERUN}"
        for name in gen.public_names(module):
            anchor = f"{module.__name__}.{name}"
            assert f'<a id="{anchor}"></a>' in text, f"{anchor}: {RERUN}"
    for name in missing:
        assert f'<a id="{name}"></a>' not in text


def test_no_public_name_is_defined_in_a_private_module() -> None:
    # Issue 9's layout: what the reference documents is defined in a module
    # whose path has no ``_private`` part, so "Defined in" never names one.
    private = []
    for module in gen.load_modules(gen.MODULES)[0]:
        for name in gen.public_names(module):
            home = getattr(getattr(module, name), "__module__", None)
            if isinstance(home, str) and any(p.startswith("_") for p in home.split(".")):
                private.append(f"{module.__name__}.{name} is defined in {home}")
    assert private == []


def test_the_page_has_no_memory_addresses() -> None:
    text = API_MD.read_text(encoding="utf-8")
    assert re.search(r" at 0x[0-9a-fA-F]+", text) is None


# -- finding modules and names -------------------------------------------------------------


def _package(tmp_path: Path, name: str, files: dict[str, str]) -> None:
    package = tmp_path / name
    package.mkdir()
    for filename, source in files.items():
        (package / filename).write_text(textwrap.dedent(source), encoding="utf-8")


def test_missing_modules_are_skipped_but_broken_ones_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _package(tmp_path, "apidoc_probe", {"__init__.py": "", "broken.py": "raise RuntimeError('x')"})
    monkeypatch.syspath_prepend(str(tmp_path))
    names = ("junco.paths", "junco.no_such_module", "no_such_package.sub", "apidoc_probe")
    modules, missing = gen.load_modules(names)
    assert [m.__name__ for m in modules] == ["junco.paths", "apidoc_probe"]
    assert missing == ["junco.no_such_module", "no_such_package.sub"]
    with pytest.raises(RuntimeError, match="x"):
        gen.load_modules(["apidoc_probe.broken"])
    monkeypatch.delitem(sys.modules, "apidoc_probe")


def test_public_names_without_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = """
        from pathlib import Path
        from typing import TypeVar

        T = TypeVar("T")
        LIMIT = 3

        def helper() -> None:
            '''Help.'''

        def _private() -> None: ...

        class Zeta:
            '''Last letter.'''

        class alpha:
            '''Lower case.'''
    """
    _package(tmp_path, "apidoc_names", {"__init__.py": source})
    monkeypatch.syspath_prepend(str(tmp_path))
    (module,), _ = gen.load_modules(["apidoc_names"])
    # Classes, then functions; imports, type variables and data are left out.
    assert gen.public_names(module) == ["alpha", "Zeta", "helper"]
    monkeypatch.delitem(sys.modules, "apidoc_names")


def test_constants_are_documented_by_comments_or_strings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = """
        __all__ = ["ABOVE", "BELOW", "BARE", "Box"]

        #: Documented above,
        #: on two lines.
        ABOVE = 1
        BELOW: int = 2
        \"\"\"Documented below.\"\"\"
        BARE = frozenset({"b", "a"})


        class Box:
            \"\"\"A box.\"\"\"

            #: How big.
            size = 3
    """
    _package(tmp_path, "apidoc_consts", {"__init__.py": source})
    monkeypatch.syspath_prepend(str(tmp_path))
    (module,), _ = gen.load_modules(["apidoc_consts"])
    assert gen.docstring_of(module, "ABOVE") == "Documented above, on two lines."
    assert gen.docstring_of(module, "BELOW") == "Documented below."
    assert gen.docstring_of(module, "BARE") == ""
    text = "\n".join(gen.render_module(module, {}))
    assert "BELOW: int = 2" in text
    assert "BARE = frozenset({'a', 'b'})" in text
    (size,) = gen.members(module.Box)
    assert (size.label, size.code, size.doc) == ("class attribute", "size = 3", "How big.")
    monkeypatch.delitem(sys.modules, "apidoc_consts")


def test_a_package_exports_constants_with_the_comments_of_its_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # junco.server re-exports junco.server.runner's constants; the reference
    # still says what they are. ``from . import`` (the package itself) is not
    # followed, or the generator would loop.
    init = """
        from . import inner as inner
        from .inner import LIMIT, PLAIN
        from .inner import LIMIT as RENAMED

        __all__ = ["LIMIT", "PLAIN", "RENAMED"]
    """
    inner = """
        LIMIT = 5
        \"\"\"How many.\"\"\"
        PLAIN = 1
    """
    _package(tmp_path, "apidoc_reexport", {"__init__.py": init, "inner.py": inner})
    monkeypatch.syspath_prepend(str(tmp_path))
    (module,), _ = gen.load_modules(["apidoc_reexport"])
    assert gen.docstring_of(module, "LIMIT") == "How many."
    assert gen.docstring_of(module, "RENAMED") == "How many."
    assert gen.docstring_of(module, "PLAIN") == ""
    monkeypatch.delitem(sys.modules, "apidoc_reexport")
    monkeypatch.delitem(sys.modules, "apidoc_reexport.inner")


def test_a_stale_all_entry_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _package(tmp_path, "apidoc_stale", {"__init__.py": "__all__ = ['gone']\n"})
    monkeypatch.syspath_prepend(str(tmp_path))
    (module,), _ = gen.load_modules(["apidoc_stale"])
    with pytest.raises(AttributeError, match="gone"):
        gen.public_names(module)
    monkeypatch.delitem(sys.modules, "apidoc_stale")


# -- docstrings ----------------------------------------------------------------------------


def test_google_sections_become_lists() -> None:
    doc = textwrap.dedent(
        """\
        Do a thing with ``x``; see :class:`~junco.app.Junco` and :func:`abort`.

        Args:
            x: The input, which may
                wrap onto a second line.
            mode (str): How.
            **options: Passed on.

        Returns:
            The result,
            in one piece.

        Raises:
            HTTPException: 400 when ``x`` is bad.
        """
    )
    assert gen.render_doc(doc) == [
        "Do a thing with `x`; see `Junco` and `abort`.",
        "",
        "**Args:**",
        "",
        "- `x`: The input, which may wrap onto a second line.",
        "- `mode` (*str*): How.",
        "- `**options`: Passed on.",
        "",
        "**Returns:**",
        "",
        "- The result, in one piece.",
        "",
        "**Raises:**",
        "",
        "- `HTTPException`: 400 when `x` is bad.",
    ]


def test_rest_literal_blocks_and_titles() -> None:
    doc = textwrap.dedent(
        """\
        Theory
        ------
        Use it like this::

            app = Junco()

            app.run()

        Then ``a `tick` here``.

        ::

            done()
        """
    )
    assert gen.render_doc(doc) == [
        "**Theory**",
        "",
        "Use it like this:",
        "",
        "```python",
        "app = Junco()",
        "",
        "app.run()",
        "```",
        "",
        "Then `` a `tick` here ``.",
        "",
        "```python",
        "done()",
        "```",
    ]


def test_text_after_a_section_is_text_again() -> None:
    doc = "Summary.\n\nArgs:\n    a: One.\nMore words.\n\nExample:\n    f(1)\n"
    assert gen.render_doc(doc) == [
        "Summary.",
        "",
        "**Args:**",
        "",
        "- `a`: One.",
        "",
        "More words.",
        "",
        "**Example:**",
        "",
        "```python",
        "f(1)",
        "```",
    ]


def test_generated_dataclass_docstrings_do_not_count() -> None:
    import dataclasses

    @dataclasses.dataclass
    class Plain:
        a: int

    @dataclasses.dataclass
    class Written:
        """Has one."""

        a: int

    assert gen.own_doc(Plain) == ""
    assert gen.own_doc(Written) == "Has one."


# -- signatures ----------------------------------------------------------------------------


class _Sentinel:
    pass


def _sample(
    a: int,
    /,
    b: str = "x",
    *,
    c: frozenset[str] = frozenset({"b", "a", "c"}),
    d: object = _Sentinel(),
    **rest: Any,
) -> None:
    """A function to render."""


async def _short(x: int) -> str:
    return str(x)


def _markers(a: int, /, *, b: int = 1) -> None: ...


def _only_positional(a, b=2, /):  # type: ignore[no-untyped-def]
    return a


def test_signatures_are_deterministic_and_address_free() -> None:
    code = gen.function_code("_sample", _sample)
    assert code == (
        "def _sample(\n"
        "    a: int,\n"
        "    /,\n"
        "    b: str = 'x',\n"
        "    *,\n"
        "    c: frozenset[str] = frozenset({'a', 'b', 'c'}),\n"
        f"    d: object = <{__name__}._Sentinel object>,\n"
        "    **rest: Any,\n"
        ") -> None"
    )
    assert gen.function_code("_short", _short) == "async def _short(x: int) -> str"
    assert gen.function_code("m", _markers) == "def m(a: int, /, *, b: int = 1) -> None"
    assert gen.function_code("p", _only_positional) == "def p(a, b=2, /)"


def test_methods_drop_self_and_properties_show_their_type() -> None:
    found = {m.name: m for m in gen.members(junco.Request)}
    assert found["headers"].code == "headers: Headers"
    assert found["headers"].label == "property"
    names = {m.name for m in gen.members(junco.Junco)}
    assert {"route", "add_middleware", "mount", "default_content_type"} <= names
    route = next(m for m in gen.members(junco.Junco) if m.name == "route")
    assert " ".join(route.code.split()).startswith("def route( url_pattern: str,")  # no self
    limits = {m.name: m for m in gen.members(junco.Request) if m.label == "class attribute"}
    assert limits["max_content_length"].code == (
        "max_content_length: ClassVar[int] = " + str(16 * 1024 * 1024)
    )


# -- the guides ----------------------------------------------------------------------------

_TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)


def _anchors(page: Path) -> set[str]:
    """The heading slugs of ``page`` (GitHub's rule) and its explicit ``<a id>`` anchors."""
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    slugs = set(re.findall(r'<a id="([^"]+)"></a>', text))
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
        slugs.add(slug.replace(" ", "-"))
    return slugs


@pytest.mark.parametrize("page", GUIDES)
def test_tests_cited_by_the_guides_exist(page: str) -> None:
    text = (DOCS / f"{page}.md").read_text(encoding="utf-8")
    refs = _TEST_REF.findall(text)
    if page == "security":
        assert len(refs) > 50
    for filename, name in refs:
        path = ROOT / filename
        assert path.is_file(), f"{page}.md cites a missing file {filename}"
        source = path.read_text(encoding="utf-8")
        assert re.search(rf"^(?:async )?def {name}\(", source, re.MULTILINE), (
            f"{page}.md cites {filename}::{name}, which does not exist"
        )


@pytest.mark.parametrize("page", GUIDES)
def test_links_in_the_guides_resolve(page: str) -> None:
    source = DOCS / f"{page}.md"
    for target in _LINK.findall(source.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://")):
            continue
        filename, _, fragment = target.partition("#")
        linked = DOCS / filename if filename else source
        assert linked.is_file(), f"{page}.md links to a missing page {filename}"
        if fragment:
            assert fragment in _anchors(linked), f"{page}.md links to a missing anchor {target}"
