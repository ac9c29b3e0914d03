"""What a discovered Lie-algebra basis says (docs/ARCHITECTURE.md 4.6): its invariant bilinear form, that
form's eigenvalues and signature, and its likeness to the Minkowski metric and to the Lorentz algebra so(1,3).

A basis is an array (k, n, n) of generators L_1..L_k acting on column vectors; for four-momenta n = 4 in the
order (E, px, py, pz), where the Minkowski metric is η = diag(1, -1, -1, -1). numpy only (no torch), so that
the command line can read a metric without importing torch.

- The invariant forms are the symmetric A with L_iᵀ A + A L_i = 0 for every i: the null space of that linear
  map on symmetric matrices, from its SVD. A learned basis is only nearly invariant; `A` is then the
  least-squares form, the right singular vector of the smallest singular value.
- The subspace similarity of span{L_i} with a reference algebra of dimension d (so(1,3): d = 6, in R^{n²}) is
  (1/d) Σ_j cos² θ_j over the principal angles θ_j between the two subspaces: the fraction of the reference
  algebra that lies in the span (1 when the span contains it). `generators_in_algebra`, the mean over i of
  the squared norm of L_i's projection onto the reference over that of L_i, is the converse (1 when every
  generator lies in the reference algebra); both are 1 exactly when the two subspaces are equal.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import InputError

MINKOWSKI = np.diag([1.0, -1.0, -1.0, -1.0])
RANK_RTOL = 1e-6  # singular values below this fraction of the largest count as zero


def lorentz_algebra() -> np.ndarray:
    """so(1,3) on (E, px, py, pz), (6, 4, 4): the rotations J_x, J_y, J_z, then the boosts K_x, K_y, K_z."""
    basis = np.zeros((6, 4, 4))
    for i, (a, b) in enumerate([(2, 3), (3, 1), (1, 2)]):  # J_x turns y into z, and so on
        basis[i, b, a], basis[i, a, b] = 1.0, -1.0
    for i in range(3):
        basis[3 + i, 0, 1 + i] = basis[3 + i, 1 + i, 0] = 1.0
    return basis


def _symmetric_basis(n: int) -> np.ndarray:
    """An orthonormal (Frobenius) basis of the symmetric n×n matrices, (n(n+1)/2, n, n)."""
    out = []
    for i in range(n):
        for j in range(i, n):
            e = np.zeros((n, n))
            e[i, j] = e[j, i] = 1.0 if i == j else 1.0 / np.sqrt(2.0)
            out.append(e)
    return np.array(out)


def _unit(basis: np.ndarray) -> np.ndarray:
    norms = np.sqrt((basis**2).sum(axis=(-2, -1), keepdims=True))
    return basis / np.where(norms > 0, norms, 1.0)


@dataclass(frozen=True)
class InvariantForm:
    """The invariant bilinear form of a basis (see the module docstring).

    `A` (n, n): the least-squares invariant form, scaled to ‖A‖_F = √n (as η) and signed so that
    ⟨A, reference⟩ ≥ 0 (else trace A ≥ 0). `singular_values`: those of the map A -> (L̂_iᵀ A + A L̂_i)_i on
    unit-norm symmetric A, with unit-norm L̂_i, ascending; the smallest is the invariance residual of `A`.
    `forms` (d, n, n): an orthonormal basis of the exact invariant forms (singular values ≤ RANK_RTOL × the
    largest); d = `dimension` is 0 for a learned basis that no form leaves exactly invariant, 1 for so(1,3),
    2 for so(3) inside 4×4 (A = a e₀e₀ᵀ + b diag(0, 1, 1, 1)), where `A` is only one element of the space
    and does not identify a metric.
    """

    A: np.ndarray
    singular_values: np.ndarray
    forms: np.ndarray

    @property
    def dimension(self) -> int:
        return len(self.forms)


def invariant_form(basis: np.ndarray, reference: np.ndarray | None = None) -> InvariantForm:
    """The symmetric solutions of Lᵀ A + A L = 0 for every L of `basis` (k, n, n), from an SVD."""
    basis = _unit(np.asarray(basis, dtype=np.float64))
    n = basis.shape[-1]
    sym = _symmetric_basis(n)
    # column m: the stacked images (L_iᵀ S_m + S_m L_i)_i of the m-th symmetric basis matrix
    images = np.einsum("kba,mbc->mkac", basis, sym) + np.einsum("mab,kbc->mkac", sym, basis)
    operator = images.reshape(len(sym), -1).T
    _, s, vt = np.linalg.svd(operator, full_matrices=True)
    s = np.concatenate([s, np.zeros(len(sym) - len(s))])[::-1]  # ascending, one per symmetric direction
    vt = vt[::-1]
    top = s[-1] if s[-1] > 0 else 1.0
    dimension = int(np.sum(s <= RANK_RTOL * top))
    forms = np.einsum("dm,mab->dab", vt[:dimension], sym)
    a = np.einsum("m,mab->ab", vt[0], sym) * np.sqrt(n)
    sign = np.sum(a * reference) if reference is not None else np.trace(a)
    return InvariantForm(A=-a if sign < 0 else a, singular_values=s, forms=forms)


def signature(a: np.ndarray, rtol: float = RANK_RTOL) -> tuple[int, int, int]:
    """The numbers of positive, negative and zero (|λ| ≤ rtol max|λ|) eigenvalues of symmetric `a`."""
    eig = np.linalg.eigvalsh(a)
    zero = np.abs(eig) <= rtol * np.max(np.abs(eig)) if np.any(eig) else np.ones(len(eig), bool)
    return int(np.sum((eig > 0) & ~zero)), int(np.sum((eig < 0) & ~zero)), int(np.sum(zero))


def matrix_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """|⟨a, b⟩_F| / (‖a‖_F ‖b‖_F): likeness of two matrices up to sign and scale (0 if either is zero)."""
    a, b = np.ravel(a), np.ravel(b)
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    return float(abs(a @ b) / norm) if norm > 0 else 0.0


def _span(basis: np.ndarray) -> np.ndarray:
    """An orthonormal basis (r, n²) of span{L_i}; r is the numerical rank."""
    flat = np.asarray(basis, dtype=np.float64).reshape(len(basis), -1)
    _, s, vt = np.linalg.svd(flat, full_matrices=False)
    if not len(s) or s[0] == 0:
        return vt[:0]
    return vt[: int(np.sum(s > RANK_RTOL * s[0]))]


def principal_cosines(basis: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Cosines of the principal angles between span{basis} and span{reference} in R^{n²}, descending."""
    return np.linalg.svd(_span(basis) @ _span(reference).T, compute_uv=False)


def subspace_similarity(basis: np.ndarray, reference: np.ndarray) -> float:
    """(1/d) Σ_j cos² θ_j, d = dim span{reference}: the fraction of the reference algebra in span{basis}."""
    return float(np.sum(principal_cosines(basis, reference) ** 2) / len(_span(reference)))


def generators_in_algebra(basis: np.ndarray, reference: np.ndarray) -> float:
    """Mean over the generators of ‖P L_i‖² / ‖L_i‖², P the projection onto span{reference}."""
    unit = _unit(np.asarray(basis, dtype=np.float64)).reshape(len(basis), -1)
    return float(np.mean(np.sum((unit @ _span(reference).T) ** 2, axis=1)))


def analyse_basis(basis: np.ndarray) -> dict[str, Any]:
    """The JSON-ready analysis of a basis (k, n, n): the invariant form, its eigenvalues and signature and,
    for n = 4, the similarities to η (|cosine|) and to so(1,3) (the module docstring defines them)."""
    basis = np.asarray(basis, dtype=np.float64)
    lorentz = basis.shape[-1] == 4
    form = invariant_form(basis, MINKOWSKI if lorentz else None)
    positive, negative, zero = signature(form.A)
    out: dict[str, Any] = {
        "invariant_form": {
            "A": form.A.tolist(),
            "eigenvalues": np.linalg.eigvalsh(form.A).tolist(),
            "signature": {"positive": positive, "negative": negative, "zero": zero},
            "exact_forms": form.dimension,
            "singular_values": form.singular_values.tolist(),
        }
    }
    if lorentz:
        algebra = lorentz_algebra()
        out["minkowski_cosine"] = matrix_cosine(form.A, MINKOWSKI)
        out["so13_subspace_similarity"] = subspace_similarity(basis, algebra)
        out["generators_in_so13"] = generators_in_algebra(basis, algebra)
        out["so13_principal_cosines"] = principal_cosines(basis, algebra).tolist()
    return out


def load_metric(path: str | os.PathLike[str]) -> tuple[float, ...]:
    """The invariant form A of a symmetry.json as 16 numbers, row-major (LorentzNetConfig.metric)."""
    path = Path(path)
    try:
        a = np.asarray(json.loads(path.read_text())["invariant_form"]["A"], dtype=np.float64)
    except FileNotFoundError as err:
        raise InputError(f"{path}: file not found") from err
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InputError(f"{path}: invariant_form.A: expected a symmetry.json of toptag discover-symmetry "
                         f"({type(err).__name__}: {err})") from err
    if a.shape != (4, 4) or not np.all(np.isfinite(a)) or not np.allclose(a, a.T, atol=1e-9):
        raise InputError(f"{path}: invariant_form.A: expected a finite symmetric 4×4 matrix")
    if signature(a)[2]:
        raise InputError(f"{path}: invariant_form.A: the form is degenerate (a zero eigenvalue)")
    return tuple(float(v) for v in a.ravel())


def plot_symmetry(basis: np.ndarray, a: np.ndarray, path: str | os.PathLike[str], title: str = "") -> None:
    """Heat maps of the generators (each scaled to its largest |entry|) and of the invariant form A."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [*(np.asarray(basis)), np.asarray(a)]
    names = [f"L{i + 1}" for i in range(len(basis))] + ["A"]
    fig, axes = plt.subplots(1, len(panels), figsize=(1.8 * len(panels) + 0.5, 2.3), squeeze=False)
    n = panels[0].shape[0]
    ticks = ["E", "px", "py", "pz"] if n == 4 else [str(i) for i in range(n)]
    for ax, m, name in zip(axes[0], panels, names, strict=True):
        scale = float(np.max(np.abs(m))) or 1.0
        ax.imshow(m / scale, cmap="RdBu_r", vmin=-1, vmax=1)
        ax.set_title(name, fontsize=9)
        ax.set_xticks(range(n), ticks, fontsize=6)
        ax.set_yticks(range(n), ticks, fontsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
