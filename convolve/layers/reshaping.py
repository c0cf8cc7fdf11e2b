"""Reshaping layers: ZeroPadding1D/2D/3D, Cropping1D/2D/3D, UpSampling1D/2D/3D, Permute.

Each stores its arguments (checked here, so mistakes surface where they were written)
and calls one function of ``ops.reshaping`` -- ``zero_pad``, ``crop``, ``upsample_nearest`` or
``permute``.

``padding`` and ``cropping`` take Keras' forms: an int (the same at both ends of every
spatial axis); for 1-D a tuple (before, after); for 2-D and 3-D one int per axis (the same
at both ends) or one (before, after) pair per axis. They are stored as one (before, after)
pair per spatial axis.

Beyond Keras: Cropping1D also takes ``data_format`` (as ZeroPadding1D does in Keras 3).
UpSampling supports only interpolation='nearest' (each cell repeated ``size`` times per axis).

``Permute(dims)`` is Keras': ``dims`` orders the axes after the batch axis, 1-indexed, so
``Permute((3, 1, 2))`` turns (batch, height, width, channels) into (batch, channels, height,
width). Its receptive field: ``POINTWISE`` when it leaves the axes in order or only moves the
first or the last one to the other end (channels last <-> channels first: the spatial axes keep
their order, so every field does too); None for any other order, which mixes up the spatial
axes that the summaries' per-axis fields count in.
"""
from __future__ import annotations

from ..autograd import crop, permute, upsample_nearest, zero_pad
from ..ops.args import standardize_data_format, standardize_tuple
from ..ops.reshaping import _standardize_pairs, standardize_dims
from ..ops.shapes import POINTWISE, FieldStep, axis_names
from .base import Layer, format_shape


class _Spatial(Layer):
    """What the layers here share: rank, data format, the spatial axes of a shape."""

    rank: int = 2

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format, self.where)
        self.input_ndim = self.rank + 2

    def _spatial(self, shape):
        shape = tuple(shape)
        return shape[1:-1] if self.data_format == "channels_last" else shape[2:]

    def _with_spatial(self, shape, spatial):
        shape = tuple(shape)
        if self.data_format == "channels_last":
            return (shape[0], *spatial, shape[-1])
        return (shape[0], shape[1], *spatial)

    def get_config(self):
        config = super().get_config()
        config.update(data_format=self.data_format)
        return config


# ---- zero padding ---------------------------------------------------------------------


class BaseZeroPadding(_Spatial):
    """Zeros added before and after each spatial axis."""

    def __init__(self, padding, data_format=None, **kwargs):
        super().__init__(data_format, **kwargs)
        self.padding = _standardize_pairs(padding, self.rank, "padding", self.where)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        self.check_input_shape(input_shape)
        out = tuple(
            None if s is None else s + b + a for s, (b, a) in zip(self._spatial(input_shape), self.padding)
        )
        return self._with_spatial(input_shape, out)

    def call(self, inputs, training=False):
        return zero_pad(inputs, self.padding, self.data_format, where=self.where)

    def receptive_field(self):
        return POINTWISE  # positions shift, but no output sees more than one input cell

    def get_config(self):
        config = super().get_config()
        config.update(padding=[list(p) for p in self.padding])
        return config


class ZeroPadding1D(BaseZeroPadding):
    """Zeros before and after the steps of (batch, steps, channels). ``padding``: int or (before, after)."""

    rank = 1

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding2D(BaseZeroPadding):
    """Zeros around (batch, height, width, channels). ``padding``: int, (ph, pw) or ((top, bottom),
    (left, right))."""

    rank = 2

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


class ZeroPadding3D(BaseZeroPadding):
    """Zeros around (batch, depth, height, width, channels). ``padding``: int, 3 ints or
    3 (before, after) pairs."""

    rank = 3

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(padding, data_format, **kwargs)


# ---- cropping -------------------------------------------------------------------------


class BaseCropping(_Spatial):
    """Cells removed at the start and end of each spatial axis; each axis keeps at least one."""

    def __init__(self, cropping, data_format=None, **kwargs):
        super().__init__(data_format, **kwargs)
        self.cropping = _standardize_pairs(cropping, self.rank, "cropping", self.where)

    def check_input_shape(self, shape):
        super().check_input_shape(shape)
        problems = [
            f"{name}: input {size}, cropping ({before}, {after}) → output {size - before - after}"
            for name, size, (before, after) in zip(axis_names(self.rank), self._spatial(shape), self.cropping)
            if size is not None and size - before - after < 1
        ]
        if problems:
            raise ValueError(
                f"{self.where}: the output would be empty: {'; '.join(problems)}. Every spatial axis must "
                f"keep at least one cell. Received: cropping={self.cropping}, input shape "
                f"{format_shape(shape)}"
            )

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        self.check_input_shape(input_shape)
        out = tuple(
            None if s is None else s - b - a for s, (b, a) in zip(self._spatial(input_shape), self.cropping)
        )
        return self._with_spatial(input_shape, out)

    def call(self, inputs, training=False):
        return crop(inputs, self.cropping, self.data_format, where=self.where)

    def receptive_field(self):
        return POINTWISE

    def get_config(self):
        config = super().get_config()
        config.update(cropping=[list(c) for c in self.cropping])
        return config


class Cropping1D(BaseCropping):
    """Crop the steps of (batch, steps, channels). ``cropping``: int or (before, after)."""

    rank = 1

    def __init__(self, cropping=(1, 1), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


class Cropping2D(BaseCropping):
    """Crop (batch, height, width, channels). ``cropping``: int, (ch, cw) or
    ((top, bottom), (left, right))."""

    rank = 2

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


class Cropping3D(BaseCropping):
    """Crop (batch, depth, height, width, channels). ``cropping``: int, 3 ints or 3 (before, after) pairs."""

    rank = 3

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(cropping, data_format, **kwargs)


# ---- upsampling -----------------------------------------------------------------------

#: Keras' other interpolation modes, named in the error message (not implemented here).
_KERAS_ONLY_INTERPOLATIONS = ("bilinear", "bicubic", "lanczos3", "lanczos5", "area")


class BaseUpSampling(_Spatial):
    """Each cell repeated ``size`` times along each spatial axis (nearest-neighbour)."""

    def __init__(self, size, data_format=None, **kwargs):
        super().__init__(data_format, **kwargs)
        self.size = standardize_tuple(size, self.rank, "size", self.where)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        self.check_input_shape(input_shape)
        out = tuple(None if s is None else s * r for s, r in zip(self._spatial(input_shape), self.size))
        return self._with_spatial(input_shape, out)

    def call(self, inputs, training=False):
        return upsample_nearest(inputs, self.size, self.data_format, where=self.where)

    def receptive_field(self):
        return FieldStep(upsample=self.size)

    def get_config(self):
        config = super().get_config()
        config.update(size=list(self.size))
        return config


class UpSampling1D(BaseUpSampling):
    """Repeat each step of (batch, steps, channels) ``size`` times. Keras 3 has no data_format here."""

    rank = 1

    def __init__(self, size=2, **kwargs):
        if "data_format" in kwargs:  # as Keras: this layer is channels_last only
            raise TypeError(
                "Unrecognized keyword argument(s) passed to UpSampling1D: ['data_format'] "
                "(UpSampling1D takes (batch, steps, channels) only, as in Keras)"
            )
        super().__init__(size, None, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["data_format"]
        return config


class UpSampling2D(BaseUpSampling):
    """Repeat rows and columns of (batch, height, width, channels): size (2, 2) doubles both."""

    rank = 2

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(size, data_format, **kwargs)
        if not (isinstance(interpolation, str) and interpolation.lower() == "nearest"):
            raise ValueError(
                f"{self.where}: the `interpolation` argument must be one of {{'nearest'}} (Keras' "
                f"{', '.join(repr(i) for i in _KERAS_ONLY_INTERPOLATIONS)} are not supported). "
                f"Received: interpolation={interpolation!r}"
            )
        self.interpolation = "nearest"

    def get_config(self):
        config = super().get_config()
        config.update(interpolation=self.interpolation)
        return config


class UpSampling3D(BaseUpSampling):
    """Repeat each cell of (batch, depth, height, width, channels) along the three axes."""

    rank = 3

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(size, data_format, **kwargs)


# ---- permute ----------------------------------------------------------------------------


class Permute(Layer):
    """Reorder the axes after the batch axis (Keras' Permute): ``dims`` holds each of 1..k once,
    1-indexed, e.g. ``Permute((2, 1))`` turns (batch, steps, features) into (batch, features,
    steps). The input must have rank len(dims) + 1."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = standardize_dims(dims, self.where)
        self.input_ndim = len(self.dims) + 1

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        self.check_input_shape(input_shape)
        return (input_shape[0], *(input_shape[d] for d in self.dims))

    def call(self, inputs, training=False):
        return permute(inputs, self.dims, where=self.where)

    def receptive_field(self):
        k = len(self.dims)
        layout_moves = (tuple(range(1, k + 1)), (k, *range(1, k)), (*range(2, k + 1), 1))
        return POINTWISE if self.dims in layout_moves else None

    def get_config(self):
        config = super().get_config()
        config.update(dims=list(self.dims))
        return config
