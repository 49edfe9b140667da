"""Shape and reduction modules with Torch7's batch rules (numInputDims, nInputDims, negative dims)."""

from __future__ import annotations

import math

import torch

from .base import REQUIRED, TorchModule, long_storage, register
from .containers import positive_dim


@register("View")
class View(TorchModule):
    """nn.View: a batch dim is inferred from the element count (setNumInputDims fixes the sample rank)."""

    options_spec = {"size": REQUIRED, "numElements": None, "numInputDims": None}
    storages = ("size",)

    def setup(self):
        self.options["numElements"] = math.prod(s for s in self.options["size"] if s >= 0)

    def batch_size(self, x: torch.Tensor) -> int | None:
        """Torch7's batchsize(): None when the view takes no batch dim."""
        size, dims, count = self.options["size"], self.options["numInputDims"], self.options["numElements"]
        sample_dims = dims if dims is not None else x.dim()
        elements = math.prod(x.shape[x.dim() - sample_dims :])
        if count == 0 or elements % count:
            raise ValueError(
                f"nn.View: input {'x'.join(map(str, x.shape))} does not fit view {'x'.join(map(str, size))}"
            )
        batch = 1 if -1 in size else elements // count
        batch *= math.prod(x.shape[: x.dim() - sample_dims])
        if batch == 1 and (dims is None or x.dim() <= dims):
            return None
        return batch

    def forward(self, x):
        batch = self.batch_size(x)
        size = self.options["size"]
        return x.reshape(size if batch is None else [batch, *size])


@register("Reshape")
class Reshape(TorchModule):
    options_spec = {"size": REQUIRED, "nelement": None, "batchMode": None}
    storages = ("size",)

    def setup(self):
        self.options["nelement"] = math.prod(self.options["size"])

    def torch_fields(self):
        fields = super().torch_fields()
        fields["batchsize"] = long_storage([1, *self.options["size"]])
        return fields

    def forward(self, x):
        mode, size = self.options["batchMode"], self.options["size"]
        if mode is False or (mode is None and x.numel() == self.options["nelement"] and x.shape[0] != 1):
            return x.reshape(size)
        return x.reshape(x.shape[0], *size)


@register("Transpose")
class Transpose(TorchModule):
    options_spec = {"permutations": REQUIRED, "numInputDims": None}

    def forward(self, x):
        dims = self.options["numInputDims"]
        offset = x.dim() - dims if dims is not None else 0
        for a, b in self.options["permutations"]:
            x = x.transpose(a + offset - 1, b + offset - 1)
        return x.clone(memory_format=torch.contiguous_format)


@register("Squeeze")
class Squeeze(TorchModule):
    options_spec = {"dim": None, "numInputDims": None}

    def forward(self, x):
        dim, dims = self.options["dim"], self.options["numInputDims"]
        keep_batch = False
        if dims is not None and x.dim() == dims + 1:
            if dim is not None:
                dim += 1
            elif x.shape[0] == 1:
                keep_batch = True
        y = x.squeeze(dim - 1) if dim is not None else x.squeeze()
        return y.unsqueeze(0) if keep_batch else y


@register("Unsqueeze")
class Unsqueeze(TorchModule):
    """Without numInputDims, the first forward fixes it to that input's rank (as nn does, and saves it)."""

    options_spec = {"pos": REQUIRED, "numInputDims": None}

    def forward(self, x):
        if self.options["numInputDims"] is None:
            self.options["numInputDims"] = x.dim()
        return x.unsqueeze(self.options["pos"] + x.dim() - self.options["numInputDims"] - 1)


@register("Replicate")
class Replicate(TorchModule):
    options_spec = {"nfeatures": REQUIRED, "dim": 1, "ndim": None}

    def forward(self, x):
        ndim = self.options["ndim"]
        dim = self.options["dim"] + (1 if ndim is not None and x.dim() > ndim else 0)
        y = x.unsqueeze(dim - 1)
        shape = list(y.shape)
        shape[dim - 1] = self.options["nfeatures"]
        return y.expand(shape)


@register("Narrow")
class Narrow(TorchModule):
    options_spec = {"dimension": REQUIRED, "index": REQUIRED, "length": 1}

    def forward(self, x):
        o = self.options
        dim = o["dimension"] if o["dimension"] > 0 else x.dim() + o["dimension"] + 1
        length, index = o["length"], o["index"]
        if length < 0:
            length = x.shape[dim - 1] - index + length + 2
        if index < 0:
            index, length = 1, x.shape[dim - 1] - length
        return x.narrow(dim - 1, index - 1, length).clone()


@register("Select")
class Select(TorchModule):
    options_spec = {"dimension": REQUIRED, "index": REQUIRED}

    def forward(self, x):
        o = self.options
        dim = o["dimension"] if o["dimension"] > 0 else x.dim() + o["dimension"] + 1
        index = o["index"] if o["index"] > 0 else x.shape[dim - 1] + o["index"] + 1
        return x.select(dim - 1, index - 1).clone()


@register("Padding")
class Padding(TorchModule):
    """`pad` entries of `value` inserted along `dim` before entry `index` (after, counted back, when pad > 0)."""

    scratch = {"outputSize": 0}

    options_spec = {"dim": REQUIRED, "pad": REQUIRED, "nInputDim": None, "value": 0, "index": 1}

    def forward(self, x):
        o = self.options
        dim = o["dim"] + (1 if o["nInputDim"] is not None and x.dim() != o["nInputDim"] else 0) - 1
        size, pad, index = x.shape[dim], o["pad"], o["index"]
        if pad > 0:
            index = size - index + 2
        shape = list(x.shape)
        shape[dim] = abs(pad)
        filler = x.new_full(shape, o["value"])
        return torch.cat([x.narrow(dim, 0, index - 1), filler, x.narrow(dim, index - 1, size - index + 1)], dim)


@register("Sum")
class Sum(TorchModule):
    """Sum (mean with sizeAverage) over a dim; the reduced dim is dropped unless the input is 1-D."""

    options_spec = {"dimension": 1, "nInputDims": None, "sizeAverage": False, "squeeze": True}

    def forward(self, x):
        o = self.options
        dim = positive_dim(o["dimension"], x.dim(), o["nInputDims"]) - 1
        y = x.mean(dim, keepdim=True) if o["sizeAverage"] else x.sum(dim, keepdim=True)
        return y.squeeze(dim) if o["squeeze"] and y.dim() > 1 else y


@register("Mean")
class Mean(Sum):
    options_spec = {"dimension": 1, "nInputDims": None, "sizeAverage": True, "squeeze": True}


@register("Max")
class Max(TorchModule):
    options_spec = {"dimension": 1, "nInputDims": None}
    reduce = staticmethod(torch.amax)

    def forward(self, x):
        dim = positive_dim(self.options["dimension"], x.dim(), self.options["nInputDims"]) - 1
        return type(self).reduce(x, dim, keepdim=x.dim() == 1)


@register("Min")
class Min(Max):
    reduce = staticmethod(torch.amin)
