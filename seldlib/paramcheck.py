"""The schema of ``params.yaml``: every key, its type and its allowed range, checked before a stage works.

:func:`validate` checks the subtree of each requested dotted key (unknown keys in it included, and
unknown keys in the sections on the way down) and returns the values coerced to their types. A bad
value ends in one line naming the file, the key and what is allowed::

    params.yaml: features.audio.n_mels: got 0; expected an integer >= 1

Model kinds, their loss-weight names and whether they can be fused come from :data:`seldlib.kinds.KINDS`.
This module imports no model, loss or PyTorch code, so that a stage reading params does not depend on
the networks. ``models.<entry>.model`` is fully checked only when the caller that builds the model passes
a :class:`ModelCheck` (``seldlib.models.paramcheck.MODEL_CHECK``): its keys must then be fields of the
kind's configuration dataclass, and the model is built on PyTorch's ``meta`` device, so the model code
itself judges the combination. Without one, only its ``preset`` is checked.
"""

from __future__ import annotations

import math
import operator
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from seldlib.constants import SAMPLE_RATE
from seldlib.datasets import SPLITS, VALIDATION_SOURCES
from seldlib.errors import SeldInputError
from seldlib.kinds import KINDS, KindSpec

NYQUIST_HZ = SAMPLE_RATE / 2
# = seldlib.models.PRESETS (tests/test_paramcheck.py compares); importing it would tie every stage to the model code
MODEL_PRESETS = ("paper", "small")
ENSEMBLE_SYSTEM = "ensemble"  # evaluate.systems: the fused system besides the `models` entries


class _Bad(Exception):
    """One problem at one dotted key (turned into a :class:`SeldInputError` naming the file)."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"{key}: {problem}" if key else problem)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _show(value: Any) -> str:
    """``value`` as YAML would spell it, on one short line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value) if isinstance(value, str) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


def _num(x: float) -> str:
    return f"{x:g}"


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


class Node(ABC):
    """One schema node: ``check`` returns the coerced value or raises :class:`_Bad` at ``key``
    (``root``: the whole parsed file, for names that refer to other sections)."""

    @abstractmethod
    def describe(self) -> str:
        """What is allowed, as it ends the sentence "expected ..."."""

    @abstractmethod
    def check(self, value: Any, key: str, root: Mapping[str, Any]) -> Any:
        """The value coerced to its type."""

    def _bad(self, value: Any, key: str, why: str = "") -> _Bad:
        return _Bad(key, f"got {_show(value)}{why}; expected {self.describe()}")


@dataclass(frozen=True)
class Int(Node):
    ge: int | None = None
    le: int | None = None

    def describe(self) -> str:
        if self.ge is not None and self.le is not None:
            return f"an integer in [{self.ge}, {self.le}]"
        if self.ge is not None:
            return f"an integer >= {self.ge}"
        return "an integer" if self.le is None else f"an integer <= {self.le}"

    def check(self, value: Any, key: str, root: Mapping[str, Any]) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._bad(value, key)
        if (self.ge is not None and value < self.ge) or (self.le is not None and value > self.le):
            raise self._bad(value, key)
        return value


@dataclass(frozen=True)
class Number(Node):
    """A finite float; YAML 1.1 reads ``3e-3`` (no dot) as a string, so numeric strings are accepted."""

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    nullable: bool = False
    note: str = ""  # why the bounds are what they are, e.g. "the Nyquist frequency"

    def _bounds(self) -> list[tuple[str, float]]:
        pairs = ((">", self.gt), (">=", self.ge), ("<", self.lt), ("<=", self.le))
        return [(op, bound) for op, bound in pairs if bound is not None]

    def describe(self) -> str:
        bounds = self._bounds()
        if len(bounds) == 2:
            (lo_op, lo), (hi_op, hi) = bounds
            text = f"a number in {'(' if lo_op == '>' else '['}{_num(lo)}, {_num(hi)}{')' if hi_op == '<' else ']'}"
        elif bounds:
            text = "a number " + " ".join(f"{op} {_num(bound)}" for op, bound in bounds)
        else:
            text = "a finite number"
        text += " or null" if self.nullable else ""
        return f"{text} ({self.note})" if self.note else text

    def check(self, value: Any, key: str, root: Mapping[str, Any]) -> float | None:
        if value is None and self.nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise self._bad(value, key)
        try:
            x = float(value)
        except ValueError:
            raise self._bad(value, key) from None
        if not math.isfinite(x) or not all(_COMPARE[op](x, bound) for op, bound in self._bounds()):
            raise self._bad(value, key)
        return x


@dataclass(frozen=True)
class Flag(Node):
    def describe(self) -> str:
        return "true or false"

    def check(self, value: Any, key: str, root: Mapping[str, Any]) -> bool:
        if not isinstance(value, bool):
            raise self._bad(value, key)
        return value


@dataclass(frozen=True)
class OneOf(Node):
    values: tuple[Any, ...]

    def describe(self) -> str:
        return "one of " + ", ".join(_show(v) for v in self.values) if self.values else "nothing (none is allowed)"

    def check(self, value: Any, key: str, root: Mapping[str, Any]) -> Any:
        # bool is an int: keep `true` from matching 1 and `1` from matching true
        if not any(value == v and type(value) is type(v) for v in self.values):
            raise self._bad(value, key)
        return value


@dataclass(frozen=True)
class Text(Node):
    pattern: str = r".+"
    hint: str = "a non-empty string"

    def describe(self) -> str:
        return self.hint

    def check(self, value: Any, key: str, root: Mapping[str, Any]) -> str:
        if not isinstance(value, str) or not re.fullmatch(self.pattern, value):
            raise self._bad(value, key)
        return value


@dataclass(frozen=True)
class ListOf(Node):
    item: Node
    min_len: int = 1
    unique: bool = False

    def describe(self) -> str:
        many = {0: "any number of", 1: "one or more"}.get(self.min_len, f"at least {self.min_len}")
        return f"a list of {many}{' distinct' if self.unique else ''} items, each {self.item.describe()}"

    def check(self, value: Any, key: str, root: Mapping[str, Any]) -> list[Any]:
        if not isinstance(value, list) or len(value) < self.min_len:
            raise self._bad(value, key)
        if self.unique and len(set(map(_show, value))) != len(value):
            raise self._bad(value, key, " (an item twice)")
        return [self.item.check(v, f"{key}[{i}]", root) for i, v in enumerate(value)]


@dataclass(frozen=True)
class MapOf(Node):
    """A mapping whose keys are chosen by the user (``models`` entries, loss weights, …)."""

    keys: Node
    values: Node
    min_len: int = 0

    def describe(self) -> str:
        at_least = f" (at least {self.min_len})" if self.min_len else ""
        return f"a mapping{at_least} of keys, each {self.keys.describe()}, to values, each {self.values.describe()}"

    def check(self, value: Any, key: str, root: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(value, dict) or len(value) < self.min_len:
            raise self._bad(value, key)
        for k in value:
            self.check_key(k, key, root)
        return {k: self.values.check(v, _join(key, str(k)), root) for k, v in value.items()}

    def check_key(self, name: Any, key: str, root: Mapping[str, Any]) -> None:
        try:
            self.keys.check(name, _join(key, str(name)), root)
        except _Bad:
            allowed = f"a key that is {self.keys.describe()}" if self.keys != OneOf(()) else "no keys at all"
            raise _Bad(_join(key, str(name)), f"not an allowed key; expected {allowed}") from None


@dataclass(frozen=True)
class Dependent:
    """A section field whose schema depends on the (checked) value of the sibling field ``on``."""

    on: str
    build: Callable[[Any], Node]


@dataclass(frozen=True)
class Section(Node):
    """A mapping with fixed keys; every key is required unless listed in ``optional``."""

    fields: dict[str, Node | Dependent]
    optional: frozenset[str] = frozenset()

    def describe(self) -> str:
        return "a mapping with keys " + ", ".join(self.fields)

    def check_keys(self, value: Any, key: str) -> None:
        """Raise unless ``value`` is a mapping whose keys are all fields of this section."""
        if not isinstance(value, dict):
            raise self._bad(value, key)
        for name in value:
            if name not in self.fields:
                raise _Bad(_join(key, str(name)),
                           f"unknown parameter; {key or 'the top level'} takes {', '.join(self.fields)}")

    def child(self, name: str, value: dict[str, Any], key: str, root: Mapping[str, Any],
              done: dict[str, Any] | None = None) -> Node:
        """The schema of field ``name``; a :class:`Dependent` is built from its checked sibling."""
        if name not in value:
            missing = self.fields[name]
            what = "" if isinstance(missing, Dependent) else f"; expected {missing.describe()}"
            raise _Bad(_join(key, name), f"missing{what}")
        node = self.fields[name]
        if isinstance(node, Dependent):
            on = done[node.on] if done and node.on in done else \
                self.child(node.on, value, key, root).check(value[node.on], _join(key, node.on), root)
            node = node.build(on)
        return node

    def check(self, value: Any, key: str, root: Mapping[str, Any]) -> dict[str, Any]:
        self.check_keys(value, key)
        out: dict[str, Any] = {}
        for name in self.fields:
            if name in value or name not in self.optional:
                out[name] = self.child(name, value, key, root, out).check(value[name], _join(key, name), root)
        return {name: out[name] for name in value}  # the file's order, as before validation


@dataclass(frozen=True)
class EntryName(Node):
    """The name of an entry of ``section`` (``models``, or ``av_models``) or one of ``extra``; ``need``
    restricts the entry's kind."""

    extra: tuple[str, ...] = ()
    need: Callable[[KindSpec], bool] | None = None
    need_text: str = ""
    section: str = "models"

    def describe(self) -> str:
        article = "an" if self.section[0] in "aeiou" else "a"
        names = f"the name of {article} {self.section} entry" + "".join(f" or {_show(e)}" for e in self.extra)
        return f"{names} whose kind {self.need_text}" if self.need else names

    def check(self, value: Any, key: str, root: Mapping[str, Any]) -> str:
        models = root.get(self.section)
        names = [*models, *self.extra] if isinstance(models, dict) else list(self.extra)
        if not isinstance(value, str) or value not in names:
            raise self._bad(value, key, f" (the entries: {', '.join(map(str, names))})")
        if self.need and value not in self.extra:
            kind = validate_tree(root, [f"{self.section}.{value}.kind"])[f"{self.section}.{value}.kind"]
            if not self.need(KINDS[kind]):
                raise self._bad(value, key, f" (kind {kind})")
        return value


@dataclass(frozen=True)
class ModelCheck:
    """What only the model code can judge of ``models.<entry>.model``, passed in by the stage that builds
    the model (``seldlib.models.paramcheck.MODEL_CHECK``), so that no other stage depends on that code.

    Attributes:
        defaults: ``(kind, preset)`` → field → default of the configuration dataclass ``kind`` builds.
        build: builds ``kind`` from a checked ``model`` mapping (``preset`` plus overrides), raising
            ``ValueError``, ``TypeError`` or ``RuntimeError`` if the model code rejects the combination.
    """

    defaults: Callable[[str, str], Mapping[str, Any]]
    build: Callable[[str, dict[str, Any]], None]


def _field_node(default: Any) -> Node:
    """Type-level schema of one model-config field, from its default; the model build judges the rest."""
    if isinstance(default, bool):
        return Flag()
    if isinstance(default, int):
        return Int(ge=0)
    if isinstance(default, float):
        return Number()
    if isinstance(default, tuple):
        return ListOf(Int(ge=1))
    return Text()


@dataclass(frozen=True)
class ModelConfig(Node):
    """``models.<entry>.model``: ``preset`` plus overrides of the kind's configuration fields (these only
    judged with a :class:`ModelCheck`)."""

    kind: str
    model_check: ModelCheck | None = None

    def describe(self) -> str:
        return f"a mapping of preset ({' | '.join(MODEL_PRESETS)}) and fields of the {self.kind} model configuration"

    def check(self, value: Any, key: str, root: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self._bad(value, key)
        preset = OneOf(MODEL_PRESETS).check(value.get("preset", MODEL_PRESETS[0]), _join(key, "preset"), root)
        if self.model_check is None:
            return dict(value)
        defaults = self.model_check.defaults(self.kind, preset)
        out: dict[str, Any] = {}
        for name, v in value.items():
            if name == "preset":
                out[name] = preset
            elif name not in defaults:
                raise _Bad(_join(key, str(name)),
                           f"unknown parameter; a {self.kind} model takes preset, {', '.join(defaults)}")
            else:
                out[name] = _field_node(defaults[name]).check(v, _join(key, name), root)
        try:
            self.model_check.build(self.kind, out)
        except (ValueError, TypeError, RuntimeError) as err:
            first = str(err).strip().splitlines()
            raise _Bad(key, f"the {self.kind} model cannot be built from {_show(value)}: "
                            f"{first[0] if first else type(err).__name__}") from None
        return out


def _loss_weights(kind: str) -> Node:
    return MapOf(OneOf(KINDS[kind].loss_weights), Number(ge=0))


def _sed_weights(members: list[str]) -> Node:
    return MapOf(OneOf(tuple(members)), Number(ge=0))


SEED = Int(ge=0)
WORKERS = Int(ge=1)
PROB = Number(ge=0, le=1)
THRESHOLD = Number(gt=0, lt=1, note="a posterior threshold outside (0, 1) never or always fires")
URL = Text(r"https?://\S+", "an http(s) URL")
SHA1 = Text(r"[0-9a-f]{40}", "a SHA-1 checksum (40 lower-case hex digits)")
NAME = Text(r"(?!ensemble$)[A-Za-z0-9_-]+", "a name of letters, digits, _ and - other than 'ensemble'")
DIRECTION_PARTNERS = tuple(sorted({spec.direction_partner for spec in KINDS.values() if spec.direction_partner}))
ROLES = tuple(sorted({role for roles in SPLITS.values() for role in roles}))



@dataclass(frozen=True)
class AvName(Node):
    """The name of an ``av_models`` entry: :data:`NAME`, and no ``models`` entry's."""

    def describe(self) -> str:
        return f"{NAME.describe()}, not the name of a models entry"

    def check(self, value: Any, key: str, root: Mapping[str, Any]) -> str:
        NAME.check(value, key, root)
        if isinstance(root.get("models"), dict) and value in root["models"]:
            raise self._bad(value, key)
        return value


@dataclass(frozen=True)
class FusableEntry(Node):
    """``ensemble_av.members[i]``: the name of a ``models`` or ``av_models`` entry whose kind can be fused."""

    def describe(self) -> str:
        return "the name of a models or av_models entry whose kind can be fused"

    def check(self, value: Any, key: str, root: Mapping[str, Any]) -> str:
        for section in ("models", "av_models"):
            if isinstance(root.get(section), dict) and isinstance(value, str) and value in root[section]:
                return EntryName(need=lambda spec: spec.fusable, need_text="can be fused", section=section).check(
                    value, key, root)
        names = [n for s in ("models", "av_models") if isinstance(root.get(s), dict) for n in root[s]]
        raise self._bad(value, key, f" (the entries: {', '.join(map(str, names))})")


REFINE_STEP = Section({
    "gate_deg": Number(ge=0, le=180),
    "blend": PROB,
    "min_score": PROB,
    "onscreen_hit": PROB,
    "miss_scale": PROB,
    "max_az": Number(gt=0, le=180),
    "hold_s": Number(ge=0),
}, optional=frozenset({"max_az", "hold_s"}))  # seldlib.postprocess.RefineConfig has defaults


@dataclass(frozen=True)
class PostprocessSection(Node):
    """``postprocess``: ``stages``, the detectors in the order they refine, and one :data:`REFINE_STEP`
    section per detector (a section whose detector is not listed is kept, unused)."""

    def describe(self) -> str:
        return "a mapping of stages (a list of detector names) and one refinement section per detector"

    def check(self, value: Any, key: str, root: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self._bad(value, key)
        if "stages" not in value:
            raise _Bad(_join(key, "stages"), "missing; expected a list of detector names")
        stages = ListOf(NAME, unique=True).check(value["stages"], _join(key, "stages"), root)
        for name in stages:
            if name not in value:
                raise _Bad(_join(key, name), f"missing; expected {REFINE_STEP.describe()}")
        out: dict[str, Any] = {}
        for name, step in value.items():
            if name == "stages":
                out[name] = stages
                continue
            NAME.check(name, _join(key, str(name)), root)
            out[name] = REFINE_STEP.check(step, _join(key, str(name)), root)
        return out


@dataclass(frozen=True)
class OptionalPath(Node):
    """A file or folder path, or null (the detector's default place)."""

    def describe(self) -> str:
        return "a path, or null for the default place"

    def check(self, value: Any, key: str, root: Mapping[str, Any]) -> str | None:
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self._bad(value, key)
        return value


# the keys of each detector kind (= seldlib.detection.DETECTOR_PARAMS; tests/test_paramcheck.py compares)
DETECTOR_ENTRIES: dict[str, dict[str, Node]] = {
    "haar": {"weights": OptionalPath(), "cascades": ListOf(Text(r"\S+\.xml", "a cascade file name (.xml)")),
             "scale_factor": Number(gt=1), "min_neighbors": Int(ge=0), "min_size": Int(ge=1),
             "upscale": Number(gt=0), "mirror": Flag(), "overlap": PROB, "score_half": Number(gt=0)},
    "keypointrcnn": {"weights": OptionalPath(), "score_threshold": PROB, "keypoint_threshold": Number(),
                     "min_size": Int(ge=1), "max_size": Int(ge=1), "batch_size": Int(ge=1)},
    "grounding_dino": {"weights": OptionalPath(), "prompts": MapOf(Int(ge=0, le=12), Text(r"(?s).*\S.*", "a prompt text")),
                       "box_threshold": PROB, "text_threshold": PROB, "batch_size": Int(ge=1)},
}


@dataclass(frozen=True)
class DetectorEntry(Node):
    """One ``detect.detectors`` entry: its ``kind`` and that kind's optional keys."""

    def describe(self) -> str:
        return f"a mapping with kind ({', '.join(DETECTOR_ENTRIES)}) and that kind's settings"

    def check(self, value: Any, key: str, root: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self._bad(value, key)
        kind = OneOf(tuple(DETECTOR_ENTRIES)).check(value.get("kind"), _join(key, "kind"), root)
        section = Section({"kind": OneOf((kind,)), **DETECTOR_ENTRIES[kind]}, optional=frozenset(DETECTOR_ENTRIES[kind]))
        return section.check(value, key, root)


TRACK_A_KINDS = tuple(k for k, spec in KINDS.items() if spec.track == "A")
TRACK_B_KINDS = tuple(k for k, spec in KINDS.items() if spec.track == "B")


@dataclass(frozen=True)
class TeacherName(Node):
    """``av_models.<entry>.teacher``: a ``models`` entry of the kind's ``teacher_kind``; for a kind that
    is not distilled it must name the ``init`` entry, so that the stage's deps stay exactly what it reads."""

    kind: str

    def describe(self) -> str:
        spec = KINDS[self.kind]
        if spec.teacher_kind:
            return f"the name of a models entry whose kind is {spec.teacher_kind}"
        return f"the same entry as init (a {spec.label} model has no teacher)"

    def check(self, value: Any, key: str, root: Mapping[str, Any]) -> str:
        spec = KINDS[self.kind]
        if spec.teacher_kind:
            return EntryName(need=lambda s: s.name == spec.teacher_kind, need_text=f"is {spec.teacher_kind}").check(
                value, key, root)
        section, entry, _ = key.split(".")
        if value != root[section][entry].get("init"):
            raise self._bad(value, key)
        return value


def model_entry(model_check: ModelCheck | None = None, track: str = "A") -> Section:
    """One ``models`` (Track A) or ``av_models`` (Track B) entry: the fields of seldlib.train.TrainConfig
    less what ``train`` sets for every model."""
    kinds = TRACK_A_KINDS if track == "A" else TRACK_B_KINDS
    entry: dict[str, Node | Dependent] = {
        "kind": OneOf(kinds),
        "model": Dependent("kind", lambda kind: ModelConfig(kind, model_check)),
        "loss_weights": Dependent("kind", _loss_weights),
        "lr": Number(gt=0),
        "batch_size": Int(ge=1),
        "steps": Int(ge=1),
        "warmup_frac": Number(ge=0, le=1),
        "hold_frac": Number(ge=0, le=1),
        "init_lr_scale": Number(gt=0, le=1),
        "final_lr_scale": Number(gt=0, le=1),
        "clip_grad_norm": Number(ge=0, nullable=True, note="0 or null: no clipping"),
        "seed": SEED,
        "scs_prob": PROB,
        "mixup_prob": PROB,
        "mixup_alpha": Number(gt=0),
        "threshold": THRESHOLD,
        "default_distance_m": Number(gt=0),
    }
    if track == "B":
        entry.update({
            "init": Dependent("kind", lambda kind: EntryName(
                need=lambda spec: spec.name == KINDS[kind].init_kind, need_text=f"is {KINDS[kind].init_kind}")),
            "teacher": Dependent("kind", TeacherName),
            "ts_weight": Number(ge=0),
            "ts_hidden_weight": Number(ge=0),
            "onscreen_threshold": Number(gt=0, lt=1, nullable=True, note="null: tuned on the validation set"),
        })
        # init and teacher name what the stage reads (deps in dvc.yaml): always written out
        return Section(entry, optional=frozenset(entry) - {"kind", "init", "teacher"})
    return Section(entry, optional=frozenset(entry) - {"kind"})  # TrainConfig has defaults


@lru_cache(maxsize=None)
def schema(model_check: ModelCheck | None = None) -> Section:
    """The whole of ``params.yaml``; ``models.<entry>.model`` judged by ``model_check`` if given."""
    return Section({
        "data": Section({
            "source": OneOf(tuple(SPLITS)),
            "seed": SEED,
            "workers": WORKERS,
            "mini": Section({"n_train": Int(ge=1), "n_val": Int(ge=1), "n_test": Int(ge=1), "video": Flag()}),
            "dcase2025": Section({"base_url": URL, "video": Flag()}),
        }),
        "validation": Section({
            "source": OneOf(VALIDATION_SOURCES),
            "fraction": Number(gt=0, le=0.5),
            "seed": SEED,
        }),
        "rooms": Section({
            "seed": SEED,
            "radii": ListOf(Number(gt=0)),
            "elevations": ListOf(Number(ge=-90, le=90)),
            "az_step_deg": Number(gt=0, le=360),
        }),
        "synth": Section({
            "source": OneOf(("procedural", "fsd50k")),
            "n_clips": Int(ge=1),
            "seed": SEED,
            "workers": Int(ge=0),  # 0: one per CPU core
            "fsd50k": Section({
                "base_url": URL,
                "fma_url": URL,
                "fma_sha1": Section({"metadata": SHA1, "small": SHA1}),
                "max_missing": Int(ge=0),
                "music_per_genre": Int(ge=1),
                "music_train_share": Number(gt=0, le=1),
                "split_seed": SEED,
            }),
        }),
        "features": Section({
            "audio": Section({
                "n_fft": Int(ge=1),
                "hop": Int(ge=1),
                "win": Dependent("n_fft", lambda n_fft: Int(ge=1, le=n_fft)),
                "n_mels": Int(ge=1),
                "fmin": Number(ge=0, lt=NYQUIST_HZ, note=f"below the Nyquist frequency of {SAMPLE_RATE} Hz audio"),
                "fmax": Dependent("fmin", lambda fmin: Number(
                    gt=fmin, le=NYQUIST_HZ,
                    note=f"above fmin, at most the Nyquist frequency of {SAMPLE_RATE} Hz audio")),
                "top_db": Number(gt=0, nullable=True, note="null: no floor"),
                "batch_size": Int(ge=1),
            }),
            "standardize": Flag(),
            "video": Section({
                "weights": OneOf(("random", "imagenet")),
                "full_fov": Flag(),
                # CNN input side: whole stride-32 ResNet cells, 2x2 to the baseline's 7x7 (seldlib.visual.RESOLUTIONS)
                "resolution": OneOf(tuple(range(64, 224 + 1, 32))),
                "bf16": OneOf(("auto", True, False)),
                "batch_size": Int(ge=1),
                "seed": SEED,
            }),
            "sets": MapOf(OneOf(ROLES), Text(), min_len=1),
        }),
        "train": Section({
            "device": Text(r"auto|cpu|cuda(:\d+)?", "'auto', 'cpu', 'cuda' or 'cuda:<index>'"),
            "amp": Flag(),
            "val_every": Int(ge=1),
            "checkpoint_every": Int(ge=1),
            "nproc": Int(ge=1),
            "sync_bn": Flag(),
            "loader": OneOf(("auto", "memory", "stream")),  # = seldlib.trainset.LOADERS
            "workers": Int(ge=0),
        }),
        "models": MapOf(NAME, model_entry(model_check), min_len=1),
        # an entry name is also a folder of models/: Track B names must differ from Track A ones
        "av_models": MapOf(AvName(), model_entry(model_check, track="B")),
        "ensemble": Section({
            "members": ListOf(EntryName(need=lambda spec: spec.fusable, need_text="can be fused"), unique=True),
            "sed_weights": Dependent("members", _sed_weights),
            "threshold": THRESHOLD,
            "doa_sce_blend": PROB,
            "dist_sce_blend": PROB,
        }),
        # the audio-visual ensemble (NERC-SLIP report section 2.3): models and av_models entries
        "ensemble_av": Section({
            "members": ListOf(FusableEntry(), unique=True),
            "sed_weights": Dependent("members", _sed_weights),
            "onscreen_weights": Dependent("members", _sed_weights),
            "threshold": THRESHOLD,
            "doa_sce_blend": PROB,
            "dist_sce_blend": PROB,
            "onscreen_threshold": Number(gt=0, lt=1, nullable=True,
                                         note="null: the mean of the members' tuned thresholds"),
        }, optional=frozenset({"onscreen_weights"})),
        "detect": Section({
            "key_fps": Number(gt=0, le=30),
            "device": Text(r"auto|cpu|cuda(:\d+)?", "'auto', 'cpu', 'cuda' or 'cuda:<index>'"),
            "detectors": MapOf(NAME, DetectorEntry()),
        }),
        "postprocess": PostprocessSection(),
        "evaluate": Section({
            "systems": ListOf(EntryName(extra=(ENSEMBLE_SYSTEM,)), unique=True),
            "av_systems": ListOf(EntryName(section="av_models"), min_len=0, unique=True),
            "direction_entry": EntryName(
                need=lambda spec: spec.name in DIRECTION_PARTNERS,
                need_text=f"lends its direction to other kinds ({', '.join(DIRECTION_PARTNERS)})"),
            "jackknife": Flag(),
            "n_track_plots": Int(ge=0),
        }),
    })


def validate_tree(tree: Any, keys: list[str], model_check: ModelCheck | None = None) -> dict[str, Any]:
    """``{dotted_key: coerced value}`` for ``keys`` of the parsed ``tree``; raises :class:`_Bad`."""
    out: dict[str, Any] = {}
    for key in keys:
        node: Node = schema(model_check)
        value: Any = tree
        prefix = ""
        for part in key.split("."):
            if isinstance(node, Section):
                node.check_keys(value, prefix)
                if part not in node.fields:
                    raise _Bad(_join(prefix, part), f"unknown parameter; {prefix or 'the top level'} takes "
                                                    f"{', '.join(node.fields)}")
                node = node.child(part, value, prefix, tree)
            elif isinstance(node, MapOf):
                if not isinstance(value, dict):
                    raise node._bad(value, prefix)
                node.check_key(part, prefix, tree)
                if part not in value:
                    raise _Bad(_join(prefix, part), f"missing; {prefix} has {', '.join(map(str, value))}")
                node = node.values
            else:
                raise _Bad(_join(prefix, part), f"no such parameter: {prefix} is {node.describe()}")
            value, prefix = value[part], _join(prefix, part)
        out[key] = node.check(value, key, tree)
    return out


def validate(tree: Any, keys: list[str], path: str | Path, model_check: ModelCheck | None = None) -> dict[str, Any]:
    """``{dotted_key: coerced value}`` for ``keys`` of ``tree`` (read from ``path``); one-line
    :class:`SeldInputError` naming ``path``, the key and what is allowed otherwise. ``model_check``:
    see :class:`ModelCheck`."""
    try:
        return validate_tree(tree, keys, model_check)
    except _Bad as err:
        raise SeldInputError(path, str(err)) from None
