"""Content-addressed artifacts (checkpoints, models) under one root folder, verified on load.

A file artifact lives at `<root>/<sha[:2]>/<sha>.safetensors`; a folder artifact (a Hugging Face
model) at `<root>/<sha[:2]>/<sha>/`, where its sha256 covers every file's relative path and digest.
The store records only the digest, so workers that mount the same volume at another path agree.

A file or folder shipped inside a package (a plugin's bundled model) carries its digest beside it,
`<name>.sha256`, and is verified against it on load the same way.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from aigc.core.errors import ArtifactCorrupt

CHUNK = 1 << 20
DIGEST_SUFFIX = ".sha256"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def folder_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{file.relative_to(path).as_posix()}\0{file_sha256(file)}\n".encode())
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    """The digest of a file or folder. Remembered in this process while every file's identity and
    change time stay the same: a worker running job after job on a 500 MB model hashes it once, and
    any write to it (which moves its ctime) makes the next call hash it again."""
    stamp = _stamp(path)
    known = _DIGESTS.get(path)
    if known is not None and known[0] == stamp:
        return known[1]
    digest = folder_sha256(path) if path.is_dir() else file_sha256(path)
    if len(_DIGESTS) >= DIGESTS_KEPT:
        _DIGESTS.pop(next(iter(_DIGESTS)))
    _DIGESTS[path] = (stamp, digest)
    return digest


DIGESTS_KEPT = 64
_DIGESTS: dict[Path, tuple[tuple[Any, ...], str]] = {}


def _stamp(path: Path) -> tuple[Any, ...]:
    """What changes whenever a file's bytes may have: device, inode, size, mtime and ctime, per file."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    stamps = []
    for file in files:
        st = file.stat()
        stamps.append((str(file), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(stamps)


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str, format: str) -> Path:
        folder = self.root / sha256[:2]
        return folder / sha256 if format == "hf" else folder / f"{sha256}.safetensors"

    def put_tensors(self, tensors: dict[str, Any], metadata: dict[str, str]) -> str:
        """Write tensors as safetensors, move them to their content address, return the sha256."""
        from safetensors.torch import save_file

        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".partial")
        os.close(fd)
        try:
            save_file(tensors, tmp, metadata=metadata)
            sha = file_sha256(Path(tmp))
            final = self.path_for(sha, "safetensors")
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)  # atomic: a reader never sees a half-written checkpoint
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return sha

    def put_folder(self, source: Path) -> str:
        sha = folder_sha256(source)
        final = self.path_for(sha, "hf")
        if not final.exists():
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=final.parent, suffix=".partial"))
            shutil.copytree(source, tmp, dirs_exist_ok=True)
            try:
                os.replace(tmp, final)
            except OSError:  # another writer placed the same content first
                shutil.rmtree(tmp, ignore_errors=True)
        return sha

    def verified_path(self, sha256: str, format: str) -> Path:
        """The artifact's path after checking its bytes still hash to `sha256`."""
        path = self.path_for(sha256, format)
        if not path.exists():
            raise ArtifactCorrupt(f"artifact {sha256[:12]} is missing under {self.root}")
        actual = sha256_of(path)
        if actual != sha256:
            raise ArtifactCorrupt(f"artifact {path} is corrupt: sha256 {actual[:12]} != recorded {sha256[:12]}")
        return path


def digest_file(path: Path) -> Path:
    """Where a shipped file or folder's sha256 is kept: beside it, named after it."""
    return path.with_name(path.name + DIGEST_SUFFIX)


def shipped_sha256(path: Path) -> str | None:
    """The sha256 in `path`'s digest file (sha256sum's layout: digest, two spaces, name); None if absent."""
    try:
        words = digest_file(path).read_text().split()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return words[0].lower() if words and re.fullmatch(r"[0-9a-fA-F]{64}", words[0]) else None


def write_digest(path: Path) -> str:
    """Compute the sha256 of a file or folder about to be shipped, and write it beside it."""
    sha = sha256_of(path)
    digest_file(path).write_text(f"{sha}  {path.name}\n")
    return sha


def verify_shipped(path: Path, subject: str, module: str) -> str:
    """The sha256 of a file or folder shipped in a package, after checking it against the digest beside it.

    `subject` names it in the error ("bundled model PATH of plugin 'gan'"); `module`, the module that
    ships it, tells which package to reinstall.
    """
    expected = shipped_sha256(path)
    if expected is None:
        raise ArtifactCorrupt(
            f"{subject} has no sha256 digest beside it ({digest_file(path).name}); {_restore_hint(module)}"
        )
    actual = sha256_of(path)
    if actual != expected:
        raise ArtifactCorrupt(
            f"{subject} is damaged: its sha256 {actual[:12]} does not match the {expected[:12]} shipped with it; "
            f"{_restore_hint(module)}"
        )
    return actual


def _restore_hint(module: str) -> str:
    """What to do about a damaged shipped file: reinstall the distribution that provides `module`."""
    from importlib.metadata import packages_distributions

    names = packages_distributions().get(module.split(".")[0])
    if names:
        return f"reinstall {names[0]} (pip install --force-reinstall {names[0]})"
    return "restore the plugin's files from where they came from"


def load_tensors(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """Tensors and string metadata of a safetensors file (never pickle)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt", device="cpu") as handle:
        metadata = handle.metadata() or {}
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    return tensors, metadata
