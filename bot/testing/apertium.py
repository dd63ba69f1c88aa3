"""Apertium, a rule-based machine translation engine nobody here designed, as the engine behind the
LibreTranslate-compatible test server (`FakeLibre(engine=Apertium())`): the glossary's term accuracy and
collateral damage are measured on real MT output, not on traps we wrote ourselves.

Needs the Debian packages: `apt-get install -y apertium apertium-eng-spa` (`.ci/run` installs them). Each
call runs the `apertium` pipeline once (about 0.1 s); unknown words are left unmarked (`-u`), as a
LibreTranslate server would return them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

# (source, target) -> Apertium mode; LibreTranslate codes on the left.
MODES = {("en", "es"): "eng-spa", ("es", "en"): "spa-eng"}
_MODE_DIRS = (Path("/usr/share/apertium/modes"), Path("/usr/local/share/apertium/modes"))


class UnsupportedPair(ValueError):
    pass


def available(source: str = "en", target: str = "es") -> bool:
    """Whether the apertium command and the language pair's data are installed."""
    mode = MODES.get((source, target))
    return (
        mode is not None
        and shutil.which("apertium") is not None
        and any((d / f"{mode}.mode").is_file() for d in _MODE_DIRS)
    )


class Apertium:
    """A callable (q, source, target) -> translation, the shape of `FakeLibre.engine`."""

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout

    def __call__(self, q: str, source: str, target: str) -> str:
        mode = MODES.get((source, target))
        if mode is None:
            raise UnsupportedPair(
                f"Apertium here translates {', '.join(f'{s}->{t}' for s, t in MODES)}, not {source}->{target}"
            )
        done = subprocess.run(
            ["apertium", "-u", mode], input=q, capture_output=True, text=True, timeout=self.timeout, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"apertium {mode} failed: {done.stderr.strip()[:200]}")
        out = done.stdout
        return out[:-1] if out.endswith("\n") and not q.endswith("\n") else out
