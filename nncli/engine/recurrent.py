"""Recurrent layers: SimpleRNN, LSTM, GRU and Bidirectional (Keras 3 names,
defaults and weight layouts).

Inputs are (batch, timesteps, features); the output is the last state
(batch, units), or every state (batch, timesteps, units) with
`return_sequences`. The initial state is zero, as in Keras.

Masking (an embedding's `mask_zero`, passed on by `Sequential`): as in Keras
3, a masked step leaves the state unchanged, and its output repeats the
previous step's (or is zero with zero_output_for_mask, which Bidirectional
sets on both halves when it returns sequences), so the last output is the
state after the last real step. The mask goes on to the next layer with
return_sequences and ends here without.

Speed: the loop runs over time only. The input projection of every step is one
GEMM, x (T*B, F) @ kernel (F, G*units), before the loop; each step then does
one fused matmul h @ recurrent_kernel (units, G*units) for all G gates at once
(GRU without reset_after: two, as its candidate needs r * h first). Backward
through time does one matmul per step (the state gradient) and collects the
gate gradients of every step, so the kernel, recurrent kernel, bias and input
gradients are each one GEMM (or sum) after the loop.

Keras's layouts: kernel (features, G*units), recurrent_kernel (units,
G*units), bias (G*units,), gates in Keras order (LSTM i, f, c, o; GRU z, r,
h); GRU with reset_after (the default) has bias (2, 3*units): the input bias
row, then the recurrent bias row. Defaults: tanh activation, sigmoid
recurrent activation, glorot_uniform kernels, orthogonal recurrent kernels,
zero biases, and for the LSTM unit_forget_bias (the forget gate's bias starts
at 1).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NamedTuple, Union

import numpy as np
from pydantic import Field, model_validator

from nncli.engine.activations import activations
from nncli.engine.backend import Backend, get_array_module, one_blas_thread
from nncli.engine.layers import (
    ActivationRef,
    ConstraintRef,
    InitializerRef,
    Layer,
    RegularizerRef,
    layers,
    sum_rows,
)
from nncli.engine.options import ACTIVITY_DOC, attach_penalties, draw, finish
from nncli.registry import StrictModel

Shape = tuple[int, ...]
PREFIXES = {"kernel": "kernel", "recurrent_kernel": "recurrent", "bias": "bias"}


class RNNCache(NamedTuple):
    x: Any  # (T, B, F) time-major input, in processing order
    h: Any  # (T + 1, B, units) states, h[0] = 0
    z: Any  # (T, B, G * units) gate pre-activations (input + recurrent parts)
    a: Any  # (T, B, G * units) gates after their activations
    extra: Any  # LSTM: (cells, activation(cells)); GRU: its recurrent part
    y: Any  # the layer output
    mask: Any = None  # (T, B, 1) 1.0 for real steps, 0.0 for masked; or None


class _RNNConfig(StrictModel):
    """Options every recurrent layer takes (Keras names and defaults)."""

    units: int = Field(gt=0, le=100_000, description="Size of the state.")
    activation: ActivationRef = "tanh"
    use_bias: bool = True
    kernel_initializer: InitializerRef = "glorot_uniform"
    recurrent_initializer: InitializerRef = "orthogonal"
    bias_initializer: InitializerRef = "zeros"
    kernel_regularizer: RegularizerRef | None = None
    recurrent_regularizer: RegularizerRef | None = None
    bias_regularizer: RegularizerRef | None = None
    activity_regularizer: RegularizerRef | None = Field(None, description=ACTIVITY_DOC)
    kernel_constraint: ConstraintRef | None = None
    recurrent_constraint: ConstraintRef | None = None
    bias_constraint: ConstraintRef | None = None
    return_sequences: bool = Field(
        False, description="Output every step's state, not only the last."
    )
    go_backwards: bool = Field(
        False, description="Read the sequence last step first (output in that order)."
    )
    zero_output_for_mask: bool = Field(
        False, description="Masked steps output zeros instead of the last output."
    )
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Not supported: 0 only.")
    recurrent_dropout: float = Field(
        0.0, ge=0.0, lt=1.0, description="Not supported: 0 only."
    )
    return_state: bool = Field(False, description="Not supported: false only.")
    stateful: bool = Field(False, description="Not supported: false only.")

    @model_validator(mode="after")
    def _supported(self) -> _RNNConfig:
        if self.dropout or self.recurrent_dropout:
            raise ValueError(
                "dropout and recurrent_dropout inside a recurrent layer are not "
                "supported; put a {type: dropout} layer before or after it"
            )
        if self.return_state:
            raise ValueError(
                "return_state is not supported: a Sequential model passes one "
                "output on; use return_sequences for every step's state"
            )
        if self.stateful:
            raise ValueError(
                "stateful is not supported: every batch starts from a zero state"
            )
        return self


def _sigmoid(z: Any, out: Any) -> Any:
    """out = 1 / (1 + exp(-z)) in four in-place passes.

    Accurate for every z; exp(-z) overflows to inf for very negative z, which
    gives the correct 0, so the overflow warning is silenced. Twice as fast as
    the where-based sigmoid of `activations`, which guards a division that
    cannot fail here.
    """
    xp = get_array_module(z)
    xp.negative(z, out=out)
    with np.errstate(over="ignore"):
        xp.exp(out, out=out)
    out += 1
    return xp.reciprocal(out, out=out)


def _name(named: Any) -> str | None:
    """The name of a parameterless activation config ("tanh"), else None."""
    if isinstance(named, str):
        return named
    return named.get("type") if set(named) == {"type"} else None


def _blocks(a: Any, n: int) -> tuple[Any, Any, Any, Any]:
    """The LSTM's i, f, g, o column blocks (views) of a (B, 4 n) array."""
    return a[:, :n], a[:, n : 2 * n], a[:, 2 * n : 3 * n], a[:, 3 * n :]


def _fast(named: Any, activation: Any) -> Any:
    """fn(z, out) writing an activation's forward into `out`, by its cheapest route."""
    name = _name(named)
    if name == "sigmoid":
        return _sigmoid
    if name == "tanh":
        return lambda z, out: get_array_module(z).tanh(z, out=out)

    def general(z: Any, out: Any) -> Any:
        out[...] = activation.forward(z)
        return out

    return general


class _RNN(Layer):
    """Shared build, input projection and backward GEMMs of the recurrent layers."""

    NAME = ""
    GATES = 1  # blocks of `units` columns in the kernels
    takes_mask = True  # Sequential passes an embedding's padding mask (mask_zero)
    packable = True  # grads written in place (out=, [...]), params only read

    def __init__(self, **options: Any) -> None:
        super().__init__()
        self._config = self.Config(**options).model_dump(exclude={"type"})
        cfg = self._config
        self.units, self.use_bias = cfg["units"], cfg["use_bias"]
        self.return_sequences = cfg["return_sequences"]
        self.go_backwards = cfg["go_backwards"]
        self.zero_output = cfg["zero_output_for_mask"]
        self.act = activations.create(cfg["activation"])
        rec = cfg.get("recurrent_activation", "sigmoid")
        self.rec_act = activations.create(rec)
        # forward functions: the plain sigmoid and tanh by their cheapest route
        self.act_fn = _fast(cfg["activation"], self.act)
        self.rec_fn = _fast(rec, self.rec_act)
        self._names = (_name(cfg["activation"]), _name(rec))
        prefixes = dict(PREFIXES)
        if not self.use_bias:
            del prefixes["bias"]
        attach_penalties(self, cfg, prefixes)

    def _bias(self, rng: np.random.Generator) -> np.ndarray:
        return draw(self._config, "bias", (self.GATES * self.units,), rng)

    def build(
        self, in_shape: Shape, backend: Backend, rng: np.random.Generator
    ) -> Shape:
        super().build(in_shape, backend, rng)
        if len(in_shape) != 2:
            raise ValueError(
                f"{self.NAME} needs inputs of shape (timesteps, features), got shape "
                f"{list(in_shape)}; set model.input_shape to [timesteps, features]"
            )
        steps, n_in = in_shape
        gu = self.GATES * self.units
        cfg = self._config
        self.params = {
            "kernel": backend.asarray(draw(cfg, "kernel", (n_in, gu), rng)),
            "recurrent_kernel": backend.asarray(
                draw(cfg, "recurrent", (self.units, gu), rng)
            ),
        }
        if self.use_bias:
            self.params["bias"] = backend.asarray(self._bias(rng))
        finish(self, backend, PREFIXES)
        return (steps, self.units) if self.return_sequences else (self.units,)

    def _input_bias(self) -> Any:
        return self.params["bias"] if self.use_bias else None

    def forward(
        self, x: Any, training: bool = False, mask: Any = None
    ) -> tuple[Any, RNNCache]:
        """Run over the sequence; `mask` (B, T), true for real steps, as Keras's.

        A masked step leaves the state as it was (and its output repeats the
        previous one, Keras's default), so the last output is the state after
        the last real step.
        """
        xs = x.transpose(1, 0, 2)  # (T, B, F), a view
        keep = m = None
        if mask is not None:
            m = mask.T[:, :, None]  # (T, B, 1)
            if self.go_backwards:
                m = m[::-1]
            keep = ~m.astype(bool)  # steps whose state is carried over
            m = m.astype(x.dtype)
        if self.go_backwards:
            xs = xs[::-1]
        xs = self.xp.ascontiguousarray(xs)  # kept for the kernel gradient
        steps, batch, n_in = xs.shape
        z = xs.reshape(steps * batch, n_in) @ self.params["kernel"]  # one GEMM
        z = z.reshape(steps, batch, -1)  # (T, B, G * units)
        b = self._input_bias()
        if b is not None:
            z += b
        h = self.xp.zeros((steps + 1, batch, self.units), dtype=z.dtype)
        with one_blas_thread(self.xp, self._step_flops(batch)):
            a, extra = self._scan(z, h, keep)
        out = h[1:]  # (T, B, units): each step's output is its state ...
        if m is not None and self.zero_output:
            out = out * m  # ... or zero at masked steps
        if self.return_sequences:
            y = self.xp.ascontiguousarray(out.transpose(1, 0, 2))  # (B, T, units)
        else:
            y = out[steps - 1].copy()  # (B, units)
        return y, RNNCache(xs, h, z, a, extra, y, m)

    def backward(self, dy: Any, cache: RNNCache, need_dx: bool = True) -> Any:
        xp = self.xp
        steps, batch, n_in = cache.x.shape
        zeroed = cache.mask is not None and self.zero_output
        if self.return_sequences:
            dys = xp.ascontiguousarray(dy.transpose(1, 0, 2))  # (T, B, units)
            if zeroed:
                dys *= cache.mask
        else:
            dys = None
            if zeroed:
                dy = dy * cache.mask[steps - 1]
        with one_blas_thread(xp, self._step_flops(batch)):
            dz = self._scan_back(dy, dys, cache)  # (T, B, G * units), input side
        dz2 = dz.reshape(steps * batch, -1)
        x2 = cache.x.reshape(steps * batch, n_in)
        xp.matmul(x2.T, dz2, out=self.grads["kernel"])
        if self.use_bias:
            self._bias_grad(dz2)
        if not need_dx:
            return None
        dx = (dz2 @ self.params["kernel"].T).reshape(steps, batch, n_in)
        if self.go_backwards:
            dx = dx[::-1]
        return xp.ascontiguousarray(dx.transpose(1, 0, 2))  # (B, T, F)

    def _step_flops(self, batch: int) -> int:
        """FLOPs of one step's recurrent GEMM, (B, units) @ (units, G units)."""
        return 2 * batch * self.units * self.GATES * self.units

    def _bias_grad(self, dz2: Any) -> None:
        sum_rows(self.xp, dz2, self.grads["bias"])

    def _dh_at(self, t: int, dh: Any, dy: Any, dys: Any) -> Any:
        """The gradient reaching state h[t + 1]: from later steps and the output."""
        if dys is not None:
            return dys[t] if dh is None else dh + dys[t]
        if dh is None:  # the last step: only the output's gradient
            return dy
        return dh

    def _carry(self, keep: Any, t: int, *states: Any) -> None:
        """Masked rows of step t keep their previous state: s[t+1] = s[t] there."""
        if keep is not None:
            for s in states:
                self.xp.copyto(s[t + 1], s[t], where=keep[t])

    @staticmethod
    def _split(d: Any, mask: Any, t: int) -> tuple[Any, Any]:
        """(the part of d reaching step t's update, the part carried past it)."""
        if mask is None or d is None:
            return d, None
        new = d * mask[t]
        return new, d - new  # exact: the mask is 0 or 1

    def _recurrent_grad(self, h: Any, dr: Any, name: str = "recurrent_kernel"):
        """grads[name] = sum over t of h[t].T @ dr[t]: one GEMM over all steps."""
        steps, batch, units = h.shape[0] - 1, h.shape[1], h.shape[2]
        h2 = h[:steps].reshape(steps * batch, units)
        self.xp.matmul(h2.T, dr.reshape(steps * batch, -1), out=self.grads[name])

    def get_config(self) -> dict:
        return {"type": self.NAME, **self._config}

    def _scan(self, z: Any, h: Any, keep: Any) -> tuple[Any, Any]:
        raise NotImplementedError

    def _scan_back(self, dy: Any, dys: Any, cache: RNNCache) -> Any:
        raise NotImplementedError


@layers.register("simple_rnn")
class SimpleRNN(_RNN):
    """h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)."""

    NAME, GATES = "simple_rnn", 1

    class Config(_RNNConfig):
        type: Literal["simple_rnn"] = "simple_rnn"

    def _scan(self, z: Any, h: Any, keep: Any) -> tuple[Any, Any]:
        u = self.params["recurrent_kernel"]
        for t in range(z.shape[0]):
            z[t] += h[t] @ u
            self.act_fn(z[t], h[t + 1])
            self._carry(keep, t, h)
        return None, None

    def _scan_back(self, dy: Any, dys: Any, cache: RNNCache) -> Any:
        u_t = self.params["recurrent_kernel"].T
        dz = self.xp.empty_like(cache.z)
        dh = None
        for t in range(cache.z.shape[0] - 1, -1, -1):
            dh, carried = self._split(self._dh_at(t, dh, dy, dys), cache.mask, t)
            dz[t] = self.act.backward(dh, cache.z[t], cache.h[t + 1])
            if t:
                dh = dz[t] @ u_t  # (B, units)
                if carried is not None:
                    dh += carried
        self._recurrent_grad(cache.h, dz)
        return dz


@layers.register("lstm")
class LSTM(_RNN):
    """Long short-term memory, Keras's gate order i, f, c, o.

    z = x_t @ kernel + h_{t-1} @ recurrent_kernel + bias, split into i, f, g, o;
    i, f, o = recurrent_activation(.), g = activation(.);
    c_t = f * c_{t-1} + i * g; h_t = o * activation(c_t).
    unit_forget_bias (default true) starts the forget gate's bias at 1, the
    rest of the bias from bias_initializer, as Keras does.
    """

    NAME, GATES = "lstm", 4

    class Config(_RNNConfig):
        type: Literal["lstm"] = "lstm"
        recurrent_activation: ActivationRef = "sigmoid"
        unit_forget_bias: bool = Field(
            True, description="Forget gate bias starts at 1 (Keras default)."
        )

    def _bias(self, rng: np.random.Generator) -> np.ndarray:
        n = self.units
        if not self._config["unit_forget_bias"]:
            return super()._bias(rng)
        i = draw(self._config, "bias", (n,), rng)
        rest = draw(self._config, "bias", (2 * n,), rng)
        return np.concatenate([i, np.ones(n), rest])

    def _scan(self, z: Any, h: Any, keep: Any) -> tuple[Any, Any]:
        xp, n = self.xp, self.units
        u = self.params["recurrent_kernel"]
        steps = z.shape[0]
        a = xp.empty_like(z)  # (T, B, 4 units)
        c = xp.zeros_like(h)  # (T + 1, B, units)
        tc = xp.empty_like(h[1:])  # activation(c_t)
        rec, ig = xp.empty_like(z[0]), xp.empty_like(h[0])  # step buffers
        scale = None
        if self._fused():  # tanh(g) = 2 sigmoid(2 g) - 1: one exp for all gates
            scale = xp.full(4 * n, -1.0, dtype=z.dtype)
            scale[2 * n : 3 * n] = -2.0
        for t in range(steps):
            zt, at = z[t], a[t]
            xp.matmul(h[t], u, out=rec)  # one fused matmul for the 4 gates
            zt += rec
            if scale is None:
                self.rec_fn(zt, at)  # i, f and o (g is overwritten)
                self.act_fn(zt[:, 2 * n : 3 * n], at[:, 2 * n : 3 * n])
            else:
                xp.multiply(zt, scale, out=at)
                with np.errstate(over="ignore"):  # exp -> inf gives the exact 0
                    xp.exp(at, out=at)
                at += 1
                xp.reciprocal(at, out=at)
                g = at[:, 2 * n : 3 * n]
                g *= 2
                g -= 1
            i, f, g, o = _blocks(at, n)
            xp.multiply(f, c[t], out=c[t + 1])
            xp.multiply(i, g, out=ig)
            c[t + 1] += ig
            self.act_fn(c[t + 1], tc[t])
            xp.multiply(o, tc[t], out=h[t + 1])
            self._carry(keep, t, c, h)
        return a, (c, tc)

    def _fused(self) -> bool:
        """Keras's default activations, whose derivatives come from the outputs."""
        return self.rec_fn is _sigmoid and self._names == ("tanh", "sigmoid")

    def _scan_back_fused(self, dy: Any, dys: Any, cache: RNNCache) -> Any:
        """_scan_back for tanh and sigmoid: in place, derivatives from outputs."""
        xp, n = self.xp, self.units
        u_t = self.params["recurrent_kernel"].T
        c, tc = cache.extra
        dz = xp.empty_like(cache.z)
        da = xp.empty_like(cache.z[0])  # (B, 4 units)
        dc, tmp = xp.zeros_like(c[0]), xp.empty_like(c[0])  # (B, units)
        dh_buf = xp.empty_like(c[0])
        dh = None
        for t in range(cache.z.shape[0] - 1, -1, -1):
            dh, carried = self._split(self._dh_at(t, dh, dy, dys), cache.mask, t)
            dc_new, carried_c = self._split(dc, cache.mask, t)
            if carried_c is not None:
                dc[...] = dc_new
            at, dzt = cache.a[t], dz[t]
            i, f, g, o = _blocks(at, n)
            xp.multiply(tc[t], tc[t], out=tmp)  # dc += dh * o * (1 - tanh(c)^2)
            xp.subtract(1, tmp, out=tmp)
            tmp *= o
            tmp *= dh
            dc += tmp
            xp.multiply(dc, g, out=da[:, :n])
            xp.multiply(dc, c[t], out=da[:, n : 2 * n])
            xp.multiply(dc, i, out=da[:, 2 * n : 3 * n])
            xp.multiply(dh, tc[t], out=da[:, 3 * n :])
            xp.subtract(1, at, out=dzt)  # sigmoid' = a (1 - a) ...
            dzt *= at
            dg = dzt[:, 2 * n : 3 * n]  # ... and tanh' = 1 - g^2
            xp.multiply(g, g, out=dg)
            xp.subtract(1, dg, out=dg)
            dzt *= da
            if t:
                dc *= f
                dh = xp.matmul(dzt, u_t, out=dh_buf)  # (B, units)
                if carried is not None:
                    dc += carried_c
                    dh += carried
        self._recurrent_grad(cache.h, dz)
        return dz

    def _scan_back(self, dy: Any, dys: Any, cache: RNNCache) -> Any:
        if self._fused():
            return self._scan_back_fused(dy, dys, cache)
        xp, n = self.xp, self.units
        u_t = self.params["recurrent_kernel"].T
        c, tc = cache.extra
        dz = xp.empty_like(cache.z)
        da = xp.empty_like(cache.z[0])  # (B, 4 units)
        dh = dc = None
        for t in range(cache.z.shape[0] - 1, -1, -1):
            dh, carried = self._split(self._dh_at(t, dh, dy, dys), cache.mask, t)
            dc, carried_c = self._split(dc, cache.mask, t)
            at = cache.a[t]
            i, f, g, o = _blocks(at, n)
            dct = self.act.backward(dh * o, c[t + 1], tc[t])
            dc = dct if dc is None else dc + dct
            xp.multiply(dc, g, out=da[:, :n])
            xp.multiply(dc, c[t], out=da[:, n : 2 * n])
            xp.multiply(dc, i, out=da[:, 2 * n : 3 * n])
            xp.multiply(dh, tc[t], out=da[:, 3 * n :])
            dz[t] = self.rec_act.backward(da, cache.z[t], at)
            g_pre = cache.z[t][:, 2 * n : 3 * n]
            dz[t][:, 2 * n : 3 * n] = self.act.backward(da[:, 2 * n : 3 * n], g_pre, g)
            if t:
                dc = dc * f
                dh = dz[t] @ u_t  # (B, units)
                if carried is not None:
                    dh += carried
                if carried_c is not None:
                    dc += carried_c
        self._recurrent_grad(cache.h, dz)
        return dz


@layers.register("gru")
class GRU(_RNN):
    """Gated recurrent unit, Keras's gate order z (update), r (reset), h.

    With reset_after (Keras 3's default, cuDNN-compatible):
    z, r = recurrent_activation(xW_{z,r} + b_{z,r} + hU_{z,r} + b'_{z,r}),
    h~ = activation(xW_h + b_h + r * (hU_h + b'_h)); bias (2, 3 units) holds
    the input bias b and the recurrent bias b'. Without it, h~ =
    activation(xW_h + b_h + (r * h) U_h) and the bias is (3 units,).
    h_t = z * h_{t-1} + (1 - z) * h~.
    """

    NAME, GATES = "gru", 3

    class Config(_RNNConfig):
        type: Literal["gru"] = "gru"
        recurrent_activation: ActivationRef = "sigmoid"
        reset_after: bool = Field(
            True, description="Apply the reset gate after the recurrent matmul."
        )

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.reset_after = self._config["reset_after"]

    def _bias(self, rng: np.random.Generator) -> np.ndarray:
        shape = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
        return draw(self._config, "bias", shape, rng)

    def _input_bias(self) -> Any:
        if not self.use_bias:
            return None
        return self.params["bias"][0] if self.reset_after else self.params["bias"]

    def _bias_grad(self, dz2: Any) -> None:
        out = self.grads["bias"][0] if self.reset_after else self.grads["bias"]
        sum_rows(self.xp, dz2, out)

    def _scan(self, z: Any, h: Any, keep: Any) -> tuple[Any, Any]:
        xp, n = self.xp, self.units
        u = self.params["recurrent_kernel"]
        steps = z.shape[0]
        a = xp.empty_like(z)  # (T, B, 3 units): z, r, h~
        # reset_after: h @ U + b' of every step; else r * h of every step
        rec = xp.empty_like(z) if self.reset_after else xp.empty_like(h[1:])
        b_rec = self.params["bias"][1] if self.use_bias and self.reset_after else None
        for t in range(steps):
            zt, at = z[t], a[t]
            if self.reset_after:
                inner = rec[t]
                xp.matmul(h[t], u, out=inner)  # (B, 3 units), one fused matmul
                if b_rec is not None:
                    inner += b_rec
                zt[:, : 2 * n] += inner[:, : 2 * n]
                self.rec_fn(zt[:, : 2 * n], at[:, : 2 * n])
                zt[:, 2 * n :] += at[:, n : 2 * n] * inner[:, 2 * n :]
            else:
                zt[:, : 2 * n] += h[t] @ u[:, : 2 * n]
                self.rec_fn(zt[:, : 2 * n], at[:, : 2 * n])
                xp.multiply(at[:, n : 2 * n], h[t], out=rec[t])
                zt[:, 2 * n :] += rec[t] @ u[:, 2 * n :]
            self.act_fn(zt[:, 2 * n :], at[:, 2 * n :])
            cand = at[:, 2 * n :]
            h[t + 1] = cand + at[:, :n] * (h[t] - cand)
            self._carry(keep, t, h)
        return a, rec

    def _scan_back(self, dy: Any, dys: Any, cache: RNNCache) -> Any:
        xp, n = self.xp, self.units
        u = self.params["recurrent_kernel"]
        rec = cache.extra
        dz = xp.empty_like(cache.z)  # input side
        drec = xp.empty_like(cache.z) if self.reset_after else None
        da = xp.empty_like(cache.z[0][:, : 2 * n])  # (B, 2 units): dz, dr
        dh = None
        for t in range(cache.z.shape[0] - 1, -1, -1):
            dh, carried = self._split(self._dh_at(t, dh, dy, dys), cache.mask, t)
            at, h_prev = cache.a[t], cache.h[t]
            gz, r, cand = at[:, :n], at[:, n : 2 * n], at[:, 2 * n :]
            xp.multiply(dh, h_prev - cand, out=da[:, :n])
            dcand = self.act.backward(dh * (1 - gz), cache.z[t][:, 2 * n :], cand)
            dz[t][:, 2 * n :] = dcand
            if self.reset_after:
                dinner_h = drec[t][:, 2 * n :]
                xp.multiply(dcand, r, out=dinner_h)
                xp.multiply(dcand, rec[t][:, 2 * n :], out=da[:, n:])
            else:
                drh = dcand @ u[:, 2 * n :].T  # (B, units)
                xp.multiply(drh, h_prev, out=da[:, n:])
            dz[t][:, : 2 * n] = self.rec_act.backward(
                da, cache.z[t][:, : 2 * n], at[:, : 2 * n]
            )
            if t == 0:
                break
            if self.reset_after:
                drec[t][:, : 2 * n] = dz[t][:, : 2 * n]
                dh = dh * gz + drec[t] @ u.T
            else:
                dh = dh * gz + drh * r + dz[t][:, : 2 * n] @ u[:, : 2 * n].T
            if carried is not None:
                dh += carried
        if self.reset_after:
            drec[0][:, : 2 * n] = dz[0][:, : 2 * n]
            self._recurrent_grad(cache.h, drec)
            if self.use_bias:
                steps, batch = drec.shape[:2]
                sum_rows(
                    self.xp, drec.reshape(steps * batch, -1), self.grads["bias"][1]
                )
        else:
            self._gru_plain_grads(cache, dz)
        return dz

    def _gru_plain_grads(self, cache: RNNCache, dz: Any) -> None:
        """recurrent_kernel's gradient without reset_after: [h, r * h] columns."""
        n = self.units
        steps, batch = dz.shape[:2]
        h2 = cache.h[:steps].reshape(steps * batch, n)
        rh2 = cache.extra.reshape(steps * batch, n)
        dz2 = dz.reshape(steps * batch, -1)
        g = self.grads["recurrent_kernel"]
        g[:, : 2 * n] = h2.T @ dz2[:, : 2 * n]
        g[:, 2 * n :] = rh2.T @ dz2[:, 2 * n :]


RNNConfig = Annotated[
    Union[SimpleRNN.Config, LSTM.Config, GRU.Config],  # noqa: UP007
    Field(discriminator="type"),
]


class BiCache(NamedTuple):
    forward: RNNCache
    backward: RNNCache
    y_forward: Any
    y_backward: Any  # in the forward layer's time order
    y: Any


@layers.register("bidirectional")
class Bidirectional(Layer):
    """A recurrent layer run both ways over the sequence, outputs merged.

    The backward copy reads the sequence last step first (Keras's
    go_backwards); with return_sequences its outputs are flipped back, so step
    t of both halves describes input step t. merge_mode concat (default,
    2 * units), sum, mul or ave. Weights are named forward_<w> and
    backward_<w> (kernel, recurrent_kernel, bias), each drawn like the
    wrapped layer's.
    """

    takes_mask = True
    # its params are its halves' own arrays: packing them into a flat buffer
    # would rebind only this dict and leave the halves training stale copies
    packable = False

    keras_difference = (
        "Weights are named forward_kernel, backward_kernel, ... instead of "
        "Keras's nested forward_<layer>/backward_<layer> paths; merge_mode None "
        "(two outputs) and backward_layer are not offered."
    )

    class Config(StrictModel):
        type: Literal["bidirectional"] = "bidirectional"
        layer: RNNConfig = Field(description="The recurrent layer to wrap.")
        merge_mode: Literal["concat", "sum", "mul", "ave"] = "concat"

        @model_validator(mode="after")
        def _no_activity(self) -> Bidirectional.Config:
            if self.layer.activity_regularizer is not None:
                raise ValueError(
                    "an activity_regularizer on the wrapped layer is not supported; "
                    "put it on a layer after the bidirectional one"
                )
            return self

    def __init__(self, layer: dict, merge_mode: str = "concat") -> None:
        super().__init__()
        cfg = self.Config(layer=layer, merge_mode=merge_mode)
        self._config = cfg.model_dump(exclude={"type"})
        inner = self._config["layer"]
        self.merge_mode = merge_mode
        self.return_sequences = inner["return_sequences"]
        # Keras makes both halves output zeros at masked steps with sequences
        inner = {**inner, "zero_output_for_mask": self.return_sequences}
        self.forward_layer = layers.create(inner)
        back = {**inner, "go_backwards": not inner["go_backwards"]}
        self.backward_layer = layers.create(back)
        for side, sub in self._sides():
            for k, reg in sub.regularizers.items():
                self.regularizers[f"{side}_{k}"] = reg
            for k, con in sub.constraints.items():
                self.constraints[f"{side}_{k}"] = con

    def _sides(self) -> tuple[tuple[str, _RNN], tuple[str, _RNN]]:
        return ("forward", self.forward_layer), ("backward", self.backward_layer)

    def build(
        self, in_shape: Shape, backend: Backend, rng: np.random.Generator
    ) -> Shape:
        super().build(in_shape, backend, rng)
        for side, sub in self._sides():
            out = sub.build(in_shape, backend, rng)
            # the same arrays: the sublayers update them in place
            self.params.update({f"{side}_{k}": v for k, v in sub.params.items()})
            self.grads.update({f"{side}_{k}": v for k, v in sub.grads.items()})
        units = out[-1] * (2 if self.merge_mode == "concat" else 1)
        return (*out[:-1], units)

    def forward(
        self, x: Any, training: bool = False, mask: Any = None
    ) -> tuple[Any, BiCache]:
        yf, cf = self.forward_layer.forward(x, training, mask)
        yb, cb = self.backward_layer.forward(x, training, mask)
        if self.return_sequences:
            yb = yb[:, ::-1]  # back to input order
        if self.merge_mode == "concat":
            y = self.xp.concatenate([yf, yb], axis=-1)
        elif self.merge_mode == "sum":
            y = yf + yb
        elif self.merge_mode == "mul":
            y = yf * yb
        else:
            y = (yf + yb) / 2
        return y, BiCache(cf, cb, yf, yb, y)

    def backward(self, dy: Any, cache: BiCache, need_dx: bool = True) -> Any:
        n = cache.y_forward.shape[-1]
        if self.merge_mode == "concat":
            dyf, dyb = dy[..., :n], dy[..., n:]
        elif self.merge_mode == "sum":
            dyf = dyb = dy
        elif self.merge_mode == "mul":
            dyf, dyb = dy * cache.y_backward, dy * cache.y_forward
        else:
            dyf = dyb = dy / 2
        if self.return_sequences:
            dyb = dyb[:, ::-1]
        dxf = self.forward_layer.backward(dyf, cache.forward, need_dx)
        dxb = self.backward_layer.backward(dyb, cache.backward, need_dx)
        return None if dxf is None else dxf + dxb

    def get_config(self) -> dict:
        return {"type": "bidirectional", **self._config}
