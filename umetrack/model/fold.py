"""Inference copies of a network with BatchNorm folded into the convolutions before it."""

from __future__ import annotations

import copy
import warnings

from torch import nn


def fold_batchnorm(net: nn.Module) -> nn.Module:
    """An eval-mode inference copy of ``net`` in which every Conv2d directly followed by a BatchNorm2d
    becomes one Conv2d (``torch.fx.experimental.optimization.fuse`` on each ``nn.Sequential`` that
    holds a BatchNorm2d; modules with data-dependent control flow around them stay eager). Outputs
    equal ``net``'s in eval mode up to float rounding."""
    with warnings.catch_warnings():  # the module imports torch.utils.mkldnn, whose ScriptModules warn on import
        warnings.simplefilter("ignore", DeprecationWarning)
        from torch.fx.experimental.optimization import fuse

    net = copy.deepcopy(net).eval()

    def visit(module: nn.Module) -> None:
        for name, child in module.named_children():
            if isinstance(child, nn.Sequential) and any(isinstance(m, nn.BatchNorm2d) for m in child.modules()):
                setattr(module, name, fuse(child, inplace=True))
            else:
                visit(child)

    visit(net)
    return net
