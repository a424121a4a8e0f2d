"""Builds ``storage.crypto._batch``, the optional C sealer, when the wheel is built.

Optional by design: where there is no C compiler or no OpenSSL headers (a bare
``python:3.11-slim``, a Windows box) the build says why, in a warning, and the wheel
is pure Python; ``storage.crypto.envelope`` then seals with ``cryptography`` and hashlib,
the same bytes at four times the cost a record. ``PIINGUIN_PURE_PYTHON=1`` skips it on
purpose. An editable install (``make install``) builds it in place, beside its source.

Only the standard library: this runs in pip's isolated build environment. The compiler,
its flags and the extension's file name come from ``sysconfig`` (the interpreter building
the wheel), so ``CC``, ``CFLAGS`` and ``LDFLAGS`` from the environment work as they do for
setuptools (OpenSSL elsewhere than /usr: ``CFLAGS=-I.../include LDFLAGS=-L.../lib``).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sysconfig
import tempfile
import warnings
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PACKAGE = "storage/crypto"
SOURCE = Path("src", PACKAGE, "_batch.c")


class NativeSealer(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or os.environ.get("PIINGUIN_PURE_PYTHON"):
            return
        name = SOURCE.stem + sysconfig.get_config_var("EXT_SUFFIX")
        source = Path(self.root) / SOURCE
        if version == "editable":
            # The editable wheel points at src/: the module must be there.
            compile_extension(source, source.with_name(name))
            return
        self._scratch = tempfile.mkdtemp(prefix="piinguin-native-")
        built = compile_extension(source, Path(self._scratch) / name)
        if built is not None:
            build_data["force_include"][str(built)] = f"{PACKAGE}/{name}"
            build_data["pure_python"] = False
            build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        scratch = getattr(self, "_scratch", None)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def compile_extension(source: Path, target: Path) -> Path | None:
    """``target`` built from ``source`` and linked with OpenSSL's libcrypto, or ``None``
    (with a warning saying why) when this machine cannot build it."""
    config = sysconfig.get_config_var
    cc = shlex.split(os.environ.get("CC") or config("CC") or "cc")
    ldshared = shlex.split(config("LDSHARED") or "cc -shared")
    if os.environ.get("CC"):
        ldshared[0] = cc[0]
    # -DNDEBUG: Python's header assertions stay out of the module, as in CPython's own.
    cflags = ["-O2", "-Wall", "-DNDEBUG", *shlex.split(config("CCSHARED") or "-fPIC")]
    cflags += shlex.split(os.environ.get("CFLAGS", ""))
    ldflags = shlex.split(os.environ.get("LDFLAGS", ""))
    include = sysconfig.get_paths()["include"]
    with tempfile.TemporaryDirectory(prefix="piinguin-native-") as scratch:
        obj = Path(scratch) / source.with_suffix(".o").name
        partial = Path(scratch) / target.name
        steps = [
            [*cc, *cflags, f"-I{include}", "-c", str(source), "-o", str(obj)],
            [*ldshared, *ldflags, str(obj), "-o", str(partial), "-lcrypto"],
        ]
        for step in steps:
            try:
                # The compiler sysconfig (or CC) names, on our own source: nothing untrusted.
                done = subprocess.run(step, capture_output=True, text=True, check=False)  # noqa: S603
            except OSError as exc:
                _not_built(f"{step[0]}: {exc.strerror}")
                return None
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or ["no output"])[-1]
                _not_built(f"{shlex.join(step[:1])} failed: {last}")
                return None
        # Moved into place whole: an import racing the build never meets half a file.
        staged = target.with_name(target.name + ".partial")
        shutil.copyfile(partial, staged)
        os.replace(staged, target)
    return target


def _not_built(reason: str) -> None:
    warnings.warn(
        f"piinguin: the C sealer (storage.crypto._batch) was not built ({reason}); "
        "originals are sealed in pure Python, the same bytes at about four times the CPU "
        "a record",
        stacklevel=2,
    )
