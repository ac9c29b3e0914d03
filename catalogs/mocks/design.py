"""Parameter designs for the mock datasets: a seeded Latin hypercube over a prior box, or explicit points.

The default box is IAEmu's hypercube (docs/ARCHITECTURE.md 4.1); a YAML/JSON config file overrides it (and the
radial bins and run settings, see :func:`load_config`). Masses are log10(M / (Msun/h)).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from catalogs.mocks.correlations import check_r_edges, default_r_edges, logspace_edges
from catalogs.mocks.hod import MIN_PARTICLES, PARAM_NAMES, as_param_dict
from catalogs.mocks.phase_space import SatelliteProfile, check_elongation
from common.errors import InputError, check_choice

DEFAULT_PRIOR: dict[str, tuple[float, float]] = {
    "mu_cen": (-1.0, 1.0),
    "mu_sat": (-1.0, 1.0),
    "logMmin": (11.0, 15.0),
    "sigma_logM": (0.2, 0.8),
    "logM0": (11.0, 14.0),
    "logM1": (12.0, 15.0),
    "alpha": (0.8, 1.2),
}
"""IAEmu's prior box, in IAEmu's parameter order."""

MAX_RETRIES = 3


@dataclass(frozen=True)
class PriorBox:
    """Lower and upper bounds per parameter, in IAEmu's order."""

    lo: np.ndarray
    hi: np.ndarray
    names: tuple[str, ...] = PARAM_NAMES

    @classmethod
    def from_mapping(cls, bounds: Mapping[str, Sequence[float]], where: str = "prior") -> PriorBox:
        """A box from {name: [lo, hi]}; names not given keep IAEmu's default bounds."""
        unknown = sorted(set(bounds) - set(PARAM_NAMES))
        if unknown:
            raise InputError(
                f"{where}: unknown parameter {unknown}; expected names among {list(PARAM_NAMES)}"
            )
        merged = {**DEFAULT_PRIOR, **bounds}
        lo, hi = [], []
        for name in PARAM_NAMES:
            pair = merged[name]
            try:
                a, b = (float(v) for v in pair)
            except (TypeError, ValueError) as err:
                raise InputError(f"{where}: {name}: expected [lo, hi], two numbers") from err
            if not (np.isfinite(a) and np.isfinite(b) and a < b):
                raise InputError(f"{where}: {name}: expected lo < hi, got [{a:g}, {b:g}]")
            lo.append(a)
            hi.append(b)
        return cls(np.array(lo), np.array(hi))

    def narrowed_logMmin(self, log_m_min: float, log_m_max: float, where: str = "prior") -> PriorBox:
        """The box with logMmin clipped to the halo masses the catalog resolves, [log_m_min, log_m_max]."""
        i = self.names.index("logMmin")
        lo, hi = self.lo.copy(), self.hi.copy()
        lo[i], hi[i] = max(lo[i], log_m_min), min(hi[i], log_m_max)
        if lo[i] >= hi[i]:
            raise InputError(
                f"{where}: logMmin: [{self.lo[i]:g}, {self.hi[i]:g}] does not overlap the resolved halo "
                f"masses [{log_m_min:.2f}, {log_m_max:.2f}] of the halo catalog"
            )
        return PriorBox(lo, hi)

    def check_inside(self, points: np.ndarray, where: str = "points") -> None:
        """Refuse points outside the box."""
        outside = np.any((points < self.lo) | (points > self.hi), axis=1)
        if outside.any():
            raise InputError(f"{where}: point {int(np.argmax(outside))} lies outside the prior box")


def latin_hypercube(box: PriorBox, n_points: int, seed: int) -> np.ndarray:
    """`n_points` (N, P) points of a seeded Latin hypercube over `box`: one point per stratum per axis."""
    if n_points < 1:
        raise InputError(f"n-points: expected a positive number, got {n_points}")
    rng = np.random.default_rng([seed, 1])
    dim = len(box.names)
    strata = np.stack([rng.permutation(n_points) for _ in range(dim)], axis=1)
    unit = (strata + rng.random((n_points, dim))) / n_points
    return box.lo + unit * (box.hi - box.lo)


def explicit_points(
    points: Sequence[Mapping[str, float] | Sequence[float]], where: str = "points"
) -> np.ndarray:
    """(N, P) points from a list of {name: value} or of P-lists in IAEmu's order."""
    if not isinstance(points, Sequence) or len(points) == 0:
        raise InputError(f"{where}: expected a non-empty list of parameter points")
    rows = []
    for k, point in enumerate(points):
        try:
            rows.append(list(as_param_dict(point).values()))
        except InputError as err:
            raise InputError(f"{where}[{k}]: {err}") from err
        except (TypeError, ValueError) as err:
            raise InputError(f"{where}[{k}]: expected numbers for {list(PARAM_NAMES)}") from err
    return np.array(rows, dtype=float)


@dataclass(frozen=True)
class RunConfig:
    """Settings of a mock dataset beyond the command line: prior box, design, bins, retries.

    ``r_edges`` in Mpc/h; ``points`` (N, P) replaces the Latin hypercube when given; ``narrow_to_catalog``
    clips logMmin to the catalog's resolved halo masses; ``min_particles`` is the smallest populated halo;
    ``satellites`` the satellite phase space (``catalogs.mocks.phase_space``: nfw, triaxial, subhalo; None:
    triaxial on a catalog with halo shapes, else nfw) and ``satellite_elongation`` the triaxial one's p.
    """

    prior: PriorBox = field(default_factory=lambda: PriorBox.from_mapping({}))
    points: np.ndarray | None = None
    r_edges: np.ndarray = field(default_factory=default_r_edges)
    max_retries: int = MAX_RETRIES
    narrow_to_catalog: bool = True
    min_particles: float = MIN_PARTICLES
    satellites: SatelliteProfile | None = None
    satellite_elongation: float = 1.0


CONFIG_KEYS = ("prior", "points", "r_edges", "max_retries", "narrow_to_catalog", "min_particles",
               "satellites", "satellite_elongation")


def config_edges(value: object, where: str = "r_edges") -> np.ndarray:
    """Bin edges (Mpc/h) from a config: a list of edges, or ``{logspace: [lo, hi, n]}``
    (:func:`catalogs.mocks.correlations.logspace_edges`)."""
    if isinstance(value, Mapping):
        if set(value) != {"logspace"}:
            raise InputError(f"{where}: expected a list of edges or {{logspace: [lo, hi, n]}}")
        value = logspace_edges(value["logspace"], where)
    return check_r_edges(value, where=where)  # type: ignore[arg-type]


def config_from_mapping(data: Mapping[str, object], where: str = "config") -> RunConfig:
    """A :class:`RunConfig` from a parsed config; every key is optional."""
    if not isinstance(data, Mapping):
        raise InputError(f"{where}: expected a mapping with keys among {list(CONFIG_KEYS)}")
    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        raise InputError(f"{where}: unknown key {unknown}; expected keys among {list(CONFIG_KEYS)}")
    prior_map = data.get("prior", {}) or {}
    if not isinstance(prior_map, Mapping):
        raise InputError(f"{where}: prior: expected a mapping {{name: [lo, hi]}}")
    kwargs: dict[str, object] = {"prior": PriorBox.from_mapping(prior_map, f"{where}: prior")}
    if data.get("points") is not None:
        kwargs["points"] = explicit_points(data["points"], f"{where}: points")  # type: ignore[arg-type]
    if "r_edges" in data:
        kwargs["r_edges"] = config_edges(data["r_edges"], f"{where}: r_edges")
    for key, kind, lowest in (("max_retries", int, 0), ("min_particles", float, 1)):
        if key in data:
            value = data[key]
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or value < lowest
                or kind(value) != value
            ):
                raise InputError(f"{where}: {key}: expected a {kind.__name__} >= {lowest}, got {value!r}")
            kwargs[key] = kind(value)
    if "narrow_to_catalog" in data:
        if not isinstance(data["narrow_to_catalog"], bool):
            raise InputError(f"{where}: narrow_to_catalog: expected true or false")
        kwargs["narrow_to_catalog"] = data["narrow_to_catalog"]
    if "satellites" in data:
        check_choice(data["satellites"], SatelliteProfile, f"{where}: satellites")
        kwargs["satellites"] = data["satellites"]
    if "satellite_elongation" in data:
        kwargs["satellite_elongation"] = check_elongation(
            data["satellite_elongation"], data.get("satellites", "triaxial"), f"{where}: satellite_elongation"
        )
    return RunConfig(**kwargs)  # type: ignore[arg-type]


def load_config(path: str | Path) -> RunConfig:
    """Read a YAML or JSON config file (JSON is YAML) into a :class:`RunConfig`."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise InputError(f"{path}: cannot read the config ({err.strerror})") from err
    except yaml.YAMLError as err:
        raise InputError(f"{path}: not valid YAML/JSON ({str(err).splitlines()[0]})") from err
    return config_from_mapping(data or {}, str(path))
