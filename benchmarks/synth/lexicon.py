"""The phonology of SynthSign and the seeded drawing of a lexicon.

A sign is a bundle of phonological parameters (Stokoe's parameters plus handedness):

- handshape: one of ``HANDSHAPES`` (per-finger flexion of the three joints, finger spread,
  thumb abduction and opposition), optionally changing into a second handshape;
- location: one of ``LOCATIONS`` (neutral space, chest, chin, forehead, cheek, ...), a point
  relative to the signer's body or face where the palm centre of the dominant hand goes;
- movement: a path type (hold, straight, arc, circle, zigzag, tap, twist) with a direction
  (or the circling sense) and a number of repetitions;
- orientation: one of ``ORIENTATIONS``, an in-plane rotation of the hand plus a roll of the
  palm about the finger axis (the roll foreshortens the hand's width in the image);
- hands: 'one' (non-dominant hand rests), 'sym' (mirrored), 'alt' (mirrored, opposite
  phase) or 'base' (the dominant hand acts on a static non-dominant hand with its own
  handshape).

``draw_signs`` assigns parameters to glosses so that any two signs differ in at least
``min_distance`` of the five parameter slots.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Handshape vector layout (radians): 0-2 thumb flexion (CMC, MCP, IP); 3-14 flexion of the
# MCP, PIP and DIP joints of index, middle, ring, pinky; 15-18 lateral spread of those four
# fingers (towards the thumb is positive); 19 thumb abduction; 20 thumb opposition.
SHAPE_DIM = 21
_EXT, _FIST, _CURVE = (0, 5, 3), (85, 100, 65), (30, 45, 25)
_THUMB = {  # abduction, opposition, flexion of CMC, MCP, IP (degrees)
    "side": (8, 5, 0, 10, 10), "across": (25, 60, 20, 45, 35), "out": (65, 5, 0, 0, 5),
    "wide": (88, 0, 0, 0, 0), "curve": (45, 45, 10, 20, 15), "pinch": (35, 60, 20, 35, 30),
}


def _shape(fingers: tuple[tuple[int, int, int], ...], spread: float, thumb: str) -> np.ndarray:
    vec = np.zeros(SHAPE_DIM)
    ab, op, *flex = _THUMB[thumb]
    vec[0:3] = flex
    vec[3:15] = np.ravel(fingers)
    vec[15:19] = (spread, 0.0, -0.8 * spread, -1.6 * spread)
    vec[19:21] = (ab, op)
    return np.deg2rad(vec)


HANDSHAPES: dict[str, np.ndarray] = {
    "A": _shape((_FIST,) * 4, 0, "side"),
    "S": _shape((_FIST,) * 4, 0, "across"),
    "B": _shape((_EXT,) * 4, 0, "across"),
    "5": _shape((_EXT,) * 4, 13, "out"),
    "1": _shape((_EXT, _FIST, _FIST, _FIST), 0, "across"),
    "V": _shape((_EXT, _EXT, _FIST, _FIST), 14, "across"),
    "W": _shape((_EXT, _EXT, _EXT, _FIST), 11, "across"),
    "Y": _shape((_FIST, _FIST, _FIST, _EXT), 14, "wide"),
    "L": _shape((_EXT, _FIST, _FIST, _FIST), 0, "wide"),
    "C": _shape((_CURVE,) * 4, 3, "curve"),
    "O": _shape(((55, 70, 45),) * 4, 0, "pinch"),
    "X": _shape(((15, 95, 70), _FIST, _FIST, _FIST), 0, "across"),
    "bent-B": _shape(((80, 5, 5),) * 4, 0, "side"),
    "claw": _shape(((15, 80, 60),) * 4, 14, "out"),
    "F": _shape(((45, 60, 40), _EXT, _EXT, _EXT), 10, "pinch"),
}
#: The relaxed handshape of the rest pose.
RELAXED = _shape(((20, 30, 15),) * 4, 4, "side")

#: (in-plane angle of the finger axis from "up" towards the body midline, palm roll), degrees.
ORIENTATIONS: dict[str, tuple[float, float]] = {
    "up-front": (0, 0), "up-in": (10, 90), "up-back": (0, 180), "in-front": (90, 0),
    "in-down": (90, 90), "in-up": (90, -90), "diagonal": (45, 45), "out-front": (-50, 20),
}
REST_ORIENTATION = (100.0, 60.0)

LOCATIONS = ("neutral", "chest", "stomach", "shoulder", "side", "high", "forehead", "temple",
             "nose", "cheek", "chin")
#: Locations near the body midline: two-handed mirrored signs move the hands apart there.
MIDLINE = frozenset({"neutral", "chest", "stomach", "high", "forehead", "nose", "chin"})

#: Path type -> (allowed directions in degrees, allowed repetitions, amplitude / shoulder width).
MOVEMENTS: dict[str, tuple[tuple[int, ...], tuple[int, ...], float]] = {
    "hold": ((0,), (1,), 0.0),
    "straight": (tuple(range(0, 360, 45)), (1, 2), 0.4),
    "arc": (tuple(range(0, 360, 45)), (1, 2), 0.4),
    "circle": ((0, 180), (1, 2), 0.15),  # 0: clockwise (right hand on screen), 180: counter
    "zigzag": ((0, 90, 180, 270), (1,), 0.4),
    "tap": ((90,), (2, 3), 0.1),
    "twist": ((0,), (1, 2), 0.0),
}
_MOVE_P = np.array([0.12, 0.24, 0.16, 0.14, 0.08, 0.16, 0.10])
HANDS = ("one", "sym", "alt", "base")
_HANDS_P = np.array([0.55, 0.2, 0.1, 0.15])
#: Handshapes and orientations of the static base hand.
BASE_SHAPES: dict[str, str] = {"B": "in-up", "5": "in-front", "S": "in-down", "1": "up-in",
                               "C": "up-in"}


@dataclass(frozen=True)
class Sign:
    """The phonological parameters of one gloss."""

    gloss: str
    handshape: str
    location: str
    movement: str
    direction: int
    reps: int
    orientation: str
    hands: str = "one"
    handshape2: str | None = None
    base_handshape: str | None = None
    mouth: bool = False

    def slots(self) -> tuple[tuple, ...]:
        """The five parameter slots compared by the minimum-difference rule."""
        return ((self.handshape, self.handshape2), (self.location,),
                (self.movement, self.direction, self.reps), (self.orientation,),
                (self.hands, self.base_handshape))


def difference(a: Sign, b: Sign) -> int:
    """Number of parameter slots in which two signs differ."""
    return sum(x != y for x, y in zip(a.slots(), b.slots(), strict=True))


#: Pronouns are pointing signs: index finger towards self, addressee, third person.
_POINTING = {
    "IX-1": ("chest", "tap", 90, 2, "in-down"),
    "IX-2": ("neutral", "straight", 270, 1, "up-in"),
    "IX-3": ("side", "straight", 180, 1, "out-front"),
}


def _random_sign(gloss: str, rng: np.random.Generator) -> Sign:
    names = list(HANDSHAPES)
    hands = str(rng.choice(HANDS, p=_HANDS_P))
    move = str(rng.choice(list(MOVEMENTS), p=_MOVE_P))
    if hands == "alt" and move in ("hold", "twist"):
        move = "straight"
    directions, reps, _ = MOVEMENTS[move]
    location = "neutral" if hands == "base" else str(rng.choice(LOCATIONS))
    if hands in ("sym", "alt") and location == "shoulder":
        location = "chest"
    shape = str(rng.choice(names))
    shape2 = str(rng.choice(names)) if rng.random() < 0.12 else None
    base = str(rng.choice(list(BASE_SHAPES))) if hands == "base" else None
    return Sign(gloss, shape, location, move, int(rng.choice(directions)), int(rng.choice(reps)),
                str(rng.choice(list(ORIENTATIONS))), hands,
                shape2 if shape2 != shape else None, base, bool(rng.random() < 0.25))


def draw_signs(glosses: list[str], rng: np.random.Generator, min_distance: int = 2
               ) -> dict[str, Sign]:
    """Assign parameters to each gloss with a pairwise minimum difference (pointing first)."""
    signs: dict[str, Sign] = {}
    for gloss in glosses:
        if gloss in _POINTING:
            loc, move, direction, reps, orient = _POINTING[gloss]
            signs[gloss] = Sign(gloss, "1", loc, move, direction, reps, orient)
    for gloss in glosses:
        if gloss in signs:
            continue
        for _ in range(10_000):
            sign = _random_sign(gloss, rng)
            if all(difference(sign, s) >= min_distance for s in signs.values()):
                break
        else:
            raise ValueError(f"no sign for {gloss!r} differs from all others in "
                             f"{min_distance} parameters; lower the vocabulary size")
        signs[gloss] = sign
    return {g: signs[g] for g in glosses}
