"""Build a mypyc-compiled copy of junco's hot modules, for measuring (issue 14).

Copies ``src/junco`` to ``build/mypyc/junco`` and compiles the chosen modules there in
place, so ``PYTHONPATH=build/mypyc`` imports the compiled build (extension modules win over
``.py`` files in the same folder) and the worktree's pure-Python ``src/`` stays untouched.
Needs a C compiler and the Python headers.

    python scripts/mypyc_build.py                # the default module set
    python scripts/mypyc_build.py --only junco.paths junco.routing
    PYTHONPATH=build/mypyc python -c "import junco.paths as p; print(p.__file__)"
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "mypyc"

# Hot modules mypyc does not build as they are (docs/benchmarks.md, "Compiling with mypyc"):
# request and response hold async generators (body streaming), which mypyc does not
# implement, and Response has a metaclass (Microdot's class-level default_content_type),
# which makes it a non-native class where property setters are refused; _hooks' Tracked
# descriptor stops converting lists to HookList once compiled (its __set__ is not used).
EXCLUDED = ["junco.request", "junco.response", "junco._hooks"]

# The request path and the security components secure_stack() wires.
HOT = [
    "junco._dispatch",
    "junco.datastructures",
    "junco.routing",
    "junco.paths",
    "junco.calling",
    "junco.errors",
    "junco._random",
    "junco.origins",
    "junco.security._signing",
    "junco.security.sessions",
    "junco.security.csrf",
    "junco.security.security_headers",
    "junco.security.request_id",
    "junco.security.cors",
    "junco.security.csp_nonce",
    "junco.security.allowed_hosts",
]


# Classes mypyc cannot compile as native classes (they subclass list, str or type):
# the compiled copy marks them non-native; the pure-Python source is not changed.
NON_NATIVE = {
    "junco._hooks": ["HookList"],
    "junco.response": ["_ResponseType"],
    "junco.security.csrf": ["_HTML"],
}


# Textual rewrites of the compiled copy for syntax mypyc does not take, same meaning.
REWRITES = {
    # A typed None hidden by "type: ignore": mypyc checks the declared type at run time.
    "junco.routing": [
        (
            "            table = self._dynamic_index.get(pattern.url_pattern)"
            "  # type: ignore[assignment]\n            if table is None:\n",
            "            known = self._dynamic_index.get(pattern.url_pattern)\n"
            "            if known is not None:\n                table = known\n            else:\n",
        )
    ],
    # A native class cannot be made with cls.__new__(cls): build it through __init__.
    "junco.datastructures": [("        h = cls.__new__(cls)\n", "        h = cls()\n")],
    "junco.security.sessions": [
        # mypyc cannot compile a runtime-checkable Protocol (isinstance checks on
        # SessionStore then fail: three tests).
        # A None typed as Signer until init_app: mypyc checks the type at the assignment;
        # left unset, the attribute raises AttributeError if read before init_app.
        ('        self._signer = cast("Signer", None)\n', ""),
        ("@runtime_checkable\nclass SessionStore(Protocol):", "class SessionStore(Protocol):"),
        ("    _created = _active = 0.0\n", "    _created = 0.0\n    _active = 0.0\n"),
        (
            "    _accessed = _modified = _deleted = _regen = _done = False\n",
            "    _accessed = False\n    _modified = False\n    _deleted = False\n"
            "    _regen = False\n    _done = False\n",
        ),
    ],
}


# ``after_error_request = after_request`` in a class body: mypyc cannot alias a method
# (it leaves a KeyError set at import); a delegating method does the same.
_ALIAS = (
    "    after_error_request = after_request\n",
    "    def after_error_request(self, request: Request, response: Response) -> None:\n"
    "        self.after_request(request, response)\n",
)
for _m in ("sessions", "csrf", "security_headers", "request_id", "cors", "csp_nonce"):
    REWRITES.setdefault(f"junco.security.{_m}", []).append(_ALIAS)


def _rewrite(path: Path, pairs: list[tuple[str, str]]) -> None:
    text = path.read_text()
    for old, new in pairs:
        if text.count(old) != 1:
            raise SystemExit(f"{path}: {old!r} not found once")
        text = text.replace(old, new)
    path.write_text(text)


# Native classes that interpreted code subclasses (the test client's headers, apps'
# own sessions): mypyc refuses that unless told.
SUBCLASSED = {"junco.datastructures": ["Headers", "MultiDict"]}


def _decorate(path: Path, classes: list[str], attr: str) -> None:
    text = path.read_text()
    for name in classes:
        text, n = re.subn(
            rf"^class {name}\b", f"@_mypyc_attr({attr})\nclass {name}", text, flags=re.M
        )
        if n != 1:
            raise SystemExit(f"{path}: class {name} not found")
    if "as _mypyc_attr\n" not in text:
        head, sep, rest = text.partition("from __future__ import annotations\n")
        text = head + sep + "from mypy_extensions import mypyc_attr as _mypyc_attr\n" + rest
    path.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=HOT, help="modules to compile")
    parser.add_argument("--skip", nargs="*", default=[], help="modules not to compile")
    parser.add_argument("--opt-level", default="3")
    args = parser.parse_args()
    modules = [m for m in args.only if m not in set(args.skip)]
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    shutil.copytree(
        ROOT / "src" / "junco", OUT / "junco", ignore=shutil.ignore_patterns("__pycache__")
    )
    for module, classes in NON_NATIVE.items():
        if module in modules:
            _decorate(OUT / (module.replace(".", "/") + ".py"), classes, "native_class=False")
    for module, classes in SUBCLASSED.items():
        if module in modules:
            attr = "allow_interpreted_subclasses=True"
            _decorate(OUT / (module.replace(".", "/") + ".py"), classes, attr)
    for module, pairs in REWRITES.items():
        if module in modules:
            _rewrite(OUT / (module.replace(".", "/") + ".py"), pairs)
    paths = [m.replace(".", "/") + ".py" for m in modules]
    setup = textwrap.dedent(
        f"""
        from setuptools import setup
        from mypyc.build import mypycify
        setup(name="junco-mypyc", ext_modules=mypycify({paths!r}, opt_level={args.opt_level!r}))
        """
    )
    (OUT / "setup.py").write_text(setup)
    env = dict(os.environ, MYPYC_OPT_LEVEL=args.opt_level)
    cmd = [sys.executable, "setup.py", "build_ext", "--inplace", "-j", "2"]
    return subprocess.call(cmd, cwd=OUT, env=env)  # noqa: S603 - our own interpreter


if __name__ == "__main__":
    raise SystemExit(main())
