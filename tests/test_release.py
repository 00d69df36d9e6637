"""Every result bit-identical to the release the training engine was split from.

The scenarios of ``tests/release_scenarios.py`` run in fresh processes with
that release's ``skcnn`` (extracted from git) and with the working tree, on this
machine (BLAS and the vector width decide the last bits, so a file written
elsewhere could not be compared bit for bit). Each writes its weights, learned
attributes and predictions, pickles, skops files and a crashed run's
checkpoints; then each version loads the *release's* files and trains on from
them. Both must agree to the bit, and the release's files must load.
"""

import os
import subprocess
import sys
import tarfile
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest

from tests.release_scenarios import CHECKPOINTED, SCENARIOS

RELEASE = "24e0195e91db65a0e416dc56b9e0e5ac4009c1b1"
"""main before the engine was split into rooms (0.1.0.dev0)."""

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(__file__).with_name("release_scenarios.py")

pytestmark = pytest.mark.slow


def _release_source(folder: Path) -> Path:
    """The release's ``skcnn`` package, extracted into ``folder``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", RELEASE, "skcnn"],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        pytest.skip(
            f"needs the git history holding the release {RELEASE[:7]} "
            f"({archive.stderr.decode(errors='replace').strip()})"
        )
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(folder, **safe)
    return folder


def _run(source: Path, *args):
    """The scenario script with ``source``'s skcnn, in a fresh process."""
    env = dict(os.environ, PYTHONPATH=str(source))
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Folders written by each version: ``write`` and ``load`` of the release's."""
    base = tmp_path_factory.mktemp("release")
    sources = {"release": _release_source(base / "src"), "tree": ROOT}
    folders = {}
    for version, source in sources.items():
        # a first run fills numba's cache: a freshly compiled parallel kernel
        # may differ in the last bit from its cached copy, which later runs load
        warm = base / f"{version}-warm"
        warm.mkdir()
        _run(source, "write", warm)
        written, loaded = base / f"{version}-write", base / f"{version}-load"
        written.mkdir()
        loaded.mkdir()
        _run(source, "write", written)
        folders[version, "write"], folders[version, "load"] = written, loaded
    for version, source in sources.items():
        _run(source, "load", folders["release", "write"], folders[version, "load"])
    return folders


def _assert_same(release: Path, tree: Path):
    old, new = np.load(release), np.load(tree)
    assert sorted(new.files) == sorted(old.files)
    for key in old.files:
        np.testing.assert_array_equal(new[key], old[key], err_msg=key, strict=True)


@pytest.mark.parametrize("name", SCENARIOS)
def test_training_is_bit_identical(runs, name):
    _assert_same(
        runs["release", "write"] / f"{name}.npz", runs["tree", "write"] / f"{name}.npz"
    )


@pytest.mark.parametrize("kind", ["pkl", "skops"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_release_files_load_and_train_on_bit_identically(runs, name, kind):
    _assert_same(
        runs["release", "load"] / f"{name}.{kind}.npz",
        runs["tree", "load"] / f"{name}.{kind}.npz",
    )


def test_release_checkpoint_resumes_bit_identically(runs):
    resumed = f"{CHECKPOINTED}.resumed.npz"
    _assert_same(runs["release", "load"] / resumed, runs["tree", "load"] / resumed)
    # resuming reaches what the uninterrupted fit of the same scenario reached
    _assert_same(
        runs["release", "write"] / f"{CHECKPOINTED}.npz",
        runs["tree", "load"] / resumed,
    )
