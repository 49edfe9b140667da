"""Other ports' weight files as import sources, told apart by content: the TF/Keras sound8.npy dict (read
without running code) and the state_dicts of two public PyTorch ports."""

from __future__ import annotations

import pickle
import struct

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import soundnet
from audio_fixtures import small_soundnet8
from soundnet.cli import cli
from soundnet.formats.peer_formats import read_pickled_npy


def keras_tree(model: soundnet.SoundNet) -> dict:
    """The model as the TF port's dict: conv weights (k, 1, in, out), BN as gamma/beta/mean/var."""

    def conv(module):
        return {
            "weights": module.weight.detach().numpy().transpose(2, 1, 0)[:, None].copy(),
            "biases": module.bias.detach().numpy().copy(),
        }

    tree = {}
    for block in range(1, 8):
        bn = model.get_submodule(f"bn{block}")
        tree[f"conv{block}"] = {
            **conv(model.get_submodule(f"conv{block}")),
            "gamma": bn.weight.detach().numpy().copy(),
            "beta": bn.bias.detach().numpy().copy(),
            "mean": bn.running_mean.numpy().copy(),
            "var": bn.running_var.numpy().copy(),
        }
    tree["conv8"], tree["conv8_2"] = conv(model.object_head), conv(model.scene_head)
    return tree


def assert_same_tensors(model: soundnet.SoundNet, other: soundnet.SoundNet) -> None:
    mine, theirs = model.state_dict(), other.state_dict()
    assert mine.keys() == theirs.keys()
    for key in mine:
        assert torch.equal(mine[key], theirs[key]), key


def test_keras_npy_loads_exactly_and_by_content(tmp_path):
    model = small_soundnet8(seed=3)
    np.save(tmp_path / "sound8.npy", keras_tree(model), allow_pickle=True)
    (tmp_path / "weights.bin").write_bytes((tmp_path / "sound8.npy").read_bytes())  # the suffix says nothing
    for name in ("sound8.npy", "weights.bin"):
        loaded = soundnet.load(tmp_path / name)
        assert_same_tensors(model, loaded)
        assert loaded.metadata["source_file"] == name and len(loaded.metadata["source_sha256"]) == 64


def test_restricted_reader_matches_numpy(tmp_path):
    tree = keras_tree(small_soundnet8())
    np.save(tmp_path / "sound8.npy", tree, allow_pickle=True)
    ours = read_pickled_npy(tmp_path / "sound8.npy")
    theirs = np.load(tmp_path / "sound8.npy", allow_pickle=True, encoding="latin1").item()
    assert ours.keys() == theirs.keys()
    for layer in theirs:
        for key in theirs[layer]:
            assert np.array_equal(ours[layer][key], theirs[layer][key]) and ours[layer][key].dtype == np.float32


def npy_with_pickle(path, payload: bytes) -> None:
    """A .npy whose header announces a pickled object array, followed by `payload`."""
    header = b"{'descr': '|O', 'fortran_order': False, 'shape': (), }"
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload)


class RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


@pytest.mark.parametrize(
    "payload, refused",
    [
        (lambda marker: pickle.dumps(RunsCode(marker), protocol=2), "exec"),  # protocol 2 names it __builtin__.exec
        (lambda marker: pickle.dumps({"conv1": RunsCode(marker)}, protocol=4), "builtins.exec"),
        # os.system by name, as a hand-written pickle would call it
        (lambda marker: b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.", "os.system"),
        # numpy.ndarray called directly with a huge shape (a memory bomb rather than code)
        (lambda marker: b"cnumpy\nndarray\n((J\x00\x00\x00\x40tS'f'\ntR.", None),
    ],
)
def test_crafted_pickles_do_not_run(tmp_path, payload, refused):
    marker = tmp_path / "pwned"
    npy_with_pickle(tmp_path / "evil.npy", payload(marker))
    with pytest.raises(ValueError) as error:
        soundnet.load(tmp_path / "evil.npy")
    assert not marker.exists(), "the pickle ran code"
    assert "\n" not in str(error.value)
    if refused:
        assert "refusing to load" in str(error.value) and f"{refused}: only dicts" in str(error.value)


def test_npy_that_is_not_soundnet_gives_one_line(tmp_path):
    np.save(tmp_path / "plain.npy", np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="plain float32 array"):
        soundnet.load(tmp_path / "plain.npy")
    np.save(tmp_path / "dict.npy", {"conv1": {"weights": "text"}}, allow_pickle=True)
    with pytest.raises(ValueError, match="not TF/Keras SoundNet weights"):
        soundnet.load(tmp_path / "dict.npy")


# Where each public PyTorch port keeps block N's conv and BN, and the two heads (names read in their code).
PORT_LAYOUTS = {
    # SoundNet_Pytorch (smallflyingpig): convN = Sequential(Conv2d, BatchNorm2d, ...), conv8/conv8_2 heads.
    "smallflyingpig": ("conv{}.0", "conv{}.1", "conv8.0", "conv8_2.0"),
    # pytorch-soundnet (keunhong): conv1..conv7 and batchnorm1..7 (Conv2d, k x 1), conv8_objs/conv8_scns.
    "keunhong": ("conv{}", "batchnorm{}", "conv8_objs", "conv8_scns"),
}


def port_state(model: soundnet.SoundNet, port: str) -> dict:
    """The state dict a port would hold for `model`: Conv2d weights k x 1, BatchNorm2d buffers."""
    conv_key, bn_key, objects_key, scenes_key = PORT_LAYOUTS[port]
    state = {}
    for block in range(1, 8):
        conv, bn = model.get_submodule(f"conv{block}"), model.get_submodule(f"bn{block}")
        state[f"{conv_key.format(block)}.weight"] = conv.weight[..., None]
        state[f"{conv_key.format(block)}.bias"] = conv.bias
        for name in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            state[f"{bn_key.format(block)}.{name}"] = getattr(bn, name)
    for key, head in ((objects_key, model.object_head), (scenes_key, model.scene_head)):
        state[f"{key}.weight"], state[f"{key}.bias"] = head.weight[..., None], head.bias
    return {key: value.detach().clone() for key, value in state.items()}


@pytest.mark.parametrize("port", sorted(PORT_LAYOUTS))
def test_pytorch_port_state_dicts(tmp_path, port):
    model = small_soundnet8(seed=5)
    torch.save(port_state(model, port), tmp_path / "port.pth")
    (tmp_path / "port.weights").write_bytes((tmp_path / "port.pth").read_bytes())
    for name in ("port.pth", "port.weights"):
        assert_same_tensors(model, soundnet.load(tmp_path / name))


def test_port_state_dict_with_a_stray_key_is_refused(tmp_path):
    state = port_state(small_soundnet8(), "keunhong")
    state["fc.weight"] = torch.zeros(2)
    torch.save(state, tmp_path / "port.pth")
    with pytest.raises(ValueError, match="unexpected key 'fc.weight'"):
        soundnet.load(tmp_path / "port.pth")


def test_convert_command_reads_the_npy(tmp_path):
    model = small_soundnet8(seed=4)
    np.save(tmp_path / "sound8.npy", keras_tree(model), allow_pickle=True)
    result = CliRunner().invoke(cli, ["convert", str(tmp_path / "sound8.npy"), str(tmp_path / "out.safetensors")])
    assert result.exit_code == 0, result.output
    assert_same_tensors(model, soundnet.load(tmp_path / "out.safetensors"))
