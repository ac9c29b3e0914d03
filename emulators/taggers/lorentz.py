"""Minkowski geometry for the taggers: products, reference vectors, random Lorentz transformations.

Four-vectors are stored last-axis as (E, px, py, pz) in GeV, metric diag(+1, -1, -1, -1). The ROOT files
(docs/ARCHITECTURE.md 3.4) store (px, py, pz, E); :func:`from_pxpypze` reorders them.
"""

from __future__ import annotations

import math

import torch

from common.errors import InputError

METRIC = (1.0, -1.0, -1.0, -1.0)


def from_pxpypze(p: torch.Tensor) -> torch.Tensor:
    """Reorder the last axis from (px, py, pz, E) to (E, px, py, pz)."""
    return p[..., [3, 0, 1, 2]]


def metric_like(p: torch.Tensor) -> torch.Tensor:
    """The Minkowski metric diag(+1, -1, -1, -1) as a (4,) tensor with `p`'s dtype and device."""
    return torch.tensor(METRIC, dtype=p.dtype, device=p.device)


def minkowski_dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a·b = a0 b0 - a⃗·b⃗ over the last axis (broadcasting the others), in GeV² for momenta in GeV."""
    return (a * metric_like(a) * b).sum(-1)


def pairwise_dots(x: torch.Tensor) -> torch.Tensor:
    """All Minkowski products x_i·x_j of a batch of sets: (B, N, 4) -> (B, N, N), computed without autocast.

    Half-precision products of large, nearly light-like momenta cancel catastrophically, so they are always
    formed in at least float32 (float64 stays float64).
    """
    work = x if x.dtype in (torch.float32, torch.float64) else x.float()
    with torch.autocast(device_type=x.device.type, enabled=False):
        return (work * metric_like(work)) @ work.transpose(-1, -2)


def psi(a: torch.Tensor) -> torch.Tensor:
    """sign(a) log(1 + |a|): compresses Minkowski products spanning many orders of magnitude (LorentzNet)."""
    return torch.sign(a) * torch.log1p(a.abs())


REFERENCE_KINDS = ("beam", "time")


def check_references(kinds: tuple[str, ...], where: str) -> None:
    """InputError naming `where` unless every reference-vector kind is 'beam' or 'time'."""
    unknown = [kind for kind in kinds if kind not in REFERENCE_KINDS]
    if unknown:
        raise InputError(f"{where}: references: {unknown}: expected kinds among {list(REFERENCE_KINDS)}")


def reference_vectors(kinds: tuple[str, ...], dtype: torch.dtype = torch.float32
                      ) -> tuple[torch.Tensor, list[int]]:
    """Symmetry-breaking reference vectors (R, 4) and their kind codes (1 beam, 2 time).

    'beam' adds (1,0,0,±1), 'time' adds (1,0,0,0). Products with the beams are invariant under rotations
    about the beam (z) axis only (a boost along z rescales E ∓ pz); the time vector keeps all rotations.
    """
    check_references(kinds, "reference vectors")
    rows: list[tuple[float, float, float, float]] = []
    codes: list[int] = []
    for kind in kinds:
        if kind == "beam":
            rows += [(1.0, 0.0, 0.0, 1.0), (1.0, 0.0, 0.0, -1.0)]
            codes += [1, 1]
        else:
            rows.append((1.0, 0.0, 0.0, 0.0))
            codes.append(2)
    return torch.tensor(rows, dtype=dtype).reshape(-1, 4), codes


def rotation(axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotations about unit 3-vectors `axis` (..., 3) by `angle` (...) radians, as (..., 4, 4) matrices."""
    kx, ky, kz = axis.unbind(-1)
    zero = torch.zeros_like(kx)
    k = torch.stack([zero, -kz, ky, kz, zero, -kx, -ky, kx, zero], -1).reshape(*axis.shape[:-1], 3, 3)
    eye3 = torch.eye(3, dtype=axis.dtype, device=axis.device)
    s, c = torch.sin(angle)[..., None, None], torch.cos(angle)[..., None, None]
    r3 = eye3 + s * k + (1 - c) * (k @ k)
    out = torch.zeros(*axis.shape[:-1], 4, 4, dtype=axis.dtype, device=axis.device)
    out[..., 0, 0] = 1.0
    out[..., 1:, 1:] = r3
    return out


def boost(direction: torch.Tensor, rapidity: torch.Tensor) -> torch.Tensor:
    """Pure boosts along unit 3-vectors `direction` (..., 3) with `rapidity` (...) as (..., 4, 4) matrices."""
    ch, sh = torch.cosh(rapidity)[..., None], torch.sinh(rapidity)[..., None]
    n = direction
    out = torch.zeros(*n.shape[:-1], 4, 4, dtype=n.dtype, device=n.device)
    out[..., 0, 0] = ch[..., 0]
    out[..., 0, 1:] = sh * n
    out[..., 1:, 0] = sh * n
    out[..., 1:, 1:] = torch.eye(3, dtype=n.dtype, device=n.device) + (ch - 1)[..., None] * (
        n[..., :, None] * n[..., None, :]
    )
    return out


def _unit_vectors(n: int, generator: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    v = torch.randn(n, 3, generator=generator, dtype=dtype)
    return v / v.norm(dim=-1, keepdim=True)


def random_rotation(n: int, generator: torch.Generator, dtype: torch.dtype = torch.float64,
                    about_z: bool = False) -> torch.Tensor:
    """n random rotations (n, 4, 4): uniform axis and angle, or about the beam (z) axis only."""
    if about_z:
        axis = torch.tensor([0.0, 0.0, 1.0], dtype=dtype).expand(n, 3)
    else:
        axis = _unit_vectors(n, generator, dtype)
    angle = (2 * torch.rand(n, generator=generator, dtype=dtype) - 1) * math.pi
    return rotation(axis, angle)


def random_lorentz(n: int, generator: torch.Generator, max_gamma: float = 10.0,
                   dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """n random proper orthochronous Lorentz transformations (n, 4, 4): rotation · boost · rotation.

    The boost has a uniformly random direction and rapidity uniform in [0, arccosh(max_gamma)], so its
    Lorentz factor reaches up to `max_gamma`.
    """
    rapidity = torch.rand(n, generator=generator, dtype=dtype) * math.acosh(max_gamma)
    lam = boost(_unit_vectors(n, generator, dtype), rapidity)
    return random_rotation(n, generator, dtype) @ lam @ random_rotation(n, generator, dtype)


def transform(lam: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Apply Lorentz matrices `lam` (B, 4, 4) to four-vectors `p` (B, N, 4): p' = Λ p per jet."""
    return p @ lam.transpose(-1, -2)


def toy_jets(n_jets: int, n_max: int, generator: torch.Generator, dtype: torch.dtype = torch.float64,
             pt_jet: float = 600.0, spread: float = 0.2) -> tuple[torch.Tensor, torch.Tensor]:
    """Random massive jets for tests and benchmarks: p (n_jets, n_max, 4) (E, px, py, pz) in GeV, mask.

    Each jet has between n_max/2 and n_max constituents spread (σ = `spread` in η and φ) about a random axis
    with |η| < 2, masses up to 0.5 GeV and falling pT fractions summing to about `pt_jet`; padded rows are 0.
    """
    kw = {"generator": generator, "dtype": dtype}
    counts = torch.randint(max(n_max // 2, 1), n_max + 1, (n_jets,), generator=generator)
    mask = torch.arange(n_max)[None, :] < counts[:, None]
    frac = torch.rand(n_jets, n_max, **kw) ** 3 * mask
    pt = pt_jet * frac / frac.sum(1, keepdim=True) + 0.5
    eta = (4 * torch.rand(n_jets, 1, **kw) - 2) + spread * torch.randn(n_jets, n_max, **kw)
    phi = (2 * torch.rand(n_jets, 1, **kw) - 1) * math.pi + spread * torch.randn(n_jets, n_max, **kw)
    mass = 0.5 * torch.rand(n_jets, n_max, **kw)
    px, py, pz = pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta)
    energy = torch.sqrt(px**2 + py**2 + pz**2 + mass**2)
    p = torch.stack([energy, px, py, pz], -1) * mask[..., None]
    return p, mask
