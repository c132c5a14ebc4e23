"""PyTorch networks built from fpmodel's layer lists, and their export back to .fpm models.

The module is made from the same layer description that is written into the model file, so
what is trained is what lib/infer runs:

    m = fpmodel.lenet5(32, classes)          # or fpmodel.paper_net(classes)
    net = nets.build(m)                       # torch.nn.Sequential, layer by layer
    ...train...
    nets.export(net, m)                       # m.set_params(...) from the trained weights
    m.save(path)

The final softmax layer of a model is left out of the module (training uses cross-entropy on
logits); nets.probs() applies it.
"""
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model"))
import fpmodel  # noqa: E402


def with_dropout(m, rate=0.5):
    """A copy of model m's architecture with a dropout layer before the last dense layer
    (mini LeNet-5 has none); models that have dropout already are returned unchanged."""
    layers = [dict(l) for l in m.layers]
    if any(l["type"] == "dropout" for l in layers):
        return m
    last = max(i for i, l in enumerate(layers) if l["type"] == "dense")
    layers.insert(last, {"type": "dropout", "rate": rate})
    return fpmodel.Model(m.name, m.resolution, m.classes, layers, direction=m.direction,
                         normalization=m.normalization, window_seconds=m.window_seconds,
                         description=m.description)


def build(m):
    """torch.nn.Sequential for fpmodel.Model m (input N x 1 x R x R, output logits)."""
    mods = []
    flat = False
    for l, s in zip(m.layers, m.shapes):
        t = l["type"]
        if t == "conv2d":
            mods.append(nn.Conv2d(s["in"][0], l["out_channels"], l["kernel"],
                                  stride=l["stride"], padding=l["padding"]))
        elif t == "maxpool":
            mods.append(nn.MaxPool2d(l["kernel"], stride=l["stride"], padding=l["padding"]))
        elif t == "relu":
            mods.append(nn.ReLU())
        elif t == "dropout":
            mods.append(nn.Dropout(l["rate"]))
        elif t == "dense":
            if not flat:
                mods.append(nn.Flatten())
                flat = True
            n_in = s["in"][0] * s["in"][1] * s["in"][2]
            mods.append(nn.Linear(n_in, l["units"]))
        elif t == "softmax":
            continue
        else:
            raise ValueError("layer type %s has no PyTorch counterpart" % t)
    return nn.Sequential(*mods)


def export(net, m):
    """Copy net's trained weights into model m (same layer list as built from)."""
    params = []
    for mod in net:
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            params.append((mod.weight.detach().cpu().numpy(), mod.bias.detach().cpu().numpy()))
    m.set_params(params)
    return m


def load_into(net, m):
    """Set net's weights from model m's (e.g. a loaded .fpm)."""
    it = iter(m.params())
    with torch.no_grad():
        for mod in net:
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                _, w, b = next(it)
                mod.weight.copy_(torch.from_numpy(w.copy()))
                mod.bias.copy_(torch.from_numpy(b.copy()))
    return net


def probs(net, x):
    """Softmax probabilities of batch x in evaluation mode."""
    net.eval()
    with torch.no_grad():
        return torch.softmax(net(x), dim=1)


def sparse_conv(conv, n, pic, row, col, val, res):
    """conv (an nn.Conv2d with one input channel) applied to n sparse R x R pictures given
    as cells (picture number, row, col, value): the same output as conv on the dense
    pictures, computed from the non-zero cells only. Returns N x C x H' x W'."""
    k, s, p = conv.kernel_size[0], conv.stride[0], conv.padding[0]
    c_out = conv.out_channels
    h_out = (res + 2 * p - k) // s + 1
    out = conv.bias.view(1, c_out).expand(n * h_out * h_out, c_out).clone()
    r, c = row + p, col + p
    w = conv.weight.view(c_out, k * k)
    span = (k + s - 1) // s
    for dy in range(span):
        oy = torch.div(r, s, rounding_mode="floor") - dy
        ky = r - oy * s
        vy = (oy >= 0) & (oy < h_out) & (ky < k)
        for dx in range(span):
            ox = torch.div(c, s, rounding_mode="floor") - dx
            kx = c - ox * s
            ok = vy & (ox >= 0) & (ox < h_out) & (kx < k)
            if not bool(ok.any()):
                continue
            pos = (pic[ok] * h_out + oy[ok]) * h_out + ox[ok]
            contrib = w[:, (ky[ok] * k + kx[ok])].t() * val[ok].unsqueeze(1)
            out.index_add_(0, pos, contrib)
    return out.view(n, h_out, h_out, c_out).permute(0, 3, 1, 2)


class Runner:
    """Runs net on PicSet batches: dense input, or for large pictures the first convolution
    from the sparse cells (sparse_conv) and the rest of the network as usual."""

    def __init__(self, net, res, sparse=None):
        self.net = net
        self.res = res
        first = net[0]
        can = isinstance(first, nn.Conv2d) and first.in_channels == 1
        self.sparse = can and (res > 128 if sparse is None else sparse)

    def __call__(self, pics, idx):
        if not self.sparse:
            return self.net(pics.dense_batch(idx))
        n, pic, row, col, val = pics.sparse_batch(idx)
        x = sparse_conv(self.net[0], n, pic, row, col, val, self.res)
        mods = list(self.net)[1:]
        if len(mods) >= 2 and isinstance(mods[0], nn.ReLU) and isinstance(mods[1], nn.MaxPool2d):
            # max-pooling commutes with relu (both monotone): pool first, relu on 1/4 the values
            mods[0], mods[1] = mods[1], mods[0]
        for mod in mods:
            x = mod(x)
        return x
