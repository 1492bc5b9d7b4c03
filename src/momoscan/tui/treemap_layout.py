"""Squarified treemap layout on a grid of terminal character cells.

Pure Python and free of Textual so it can be tested, and reused, on its own.

The layout follows Bruls, Huizing and van Wijk, "Squarified Treemaps" (2000): values are
taken largest first and packed into strips along the shorter side of the space still free,
a strip growing for as long as that makes its worst aspect ratio no worse.

The layout is computed in floating point and only then snapped to the character grid. Every
rectangle edge is a coordinate shared, as the very same float, with the neighbours on that
edge, and every coordinate is rounded by the same monotone rule, so the rounded rectangles
still tile the grid exactly: no gaps, no overlaps. Each edge moves by at most half a cell,
so a rectangle's width and height are each off by less than one cell, which bounds its area
error by ``cell.width + cell.height + 1`` cells.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Cell", "squarify"]


@dataclass(frozen=True)
class Cell:
    """A rectangle of terminal character cells; ``x`` and ``y`` are its top-left corner."""

    x: int
    y: int
    width: int
    height: int

    @property
    def area(self) -> int:
        """The number of character cells covered."""
        return self.width * self.height

    def contains(self, x: int, y: int) -> bool:
        """Whether the character cell at column ``x``, row ``y`` lies in this rectangle."""
        return self.x <= x < self.x + self.width and self.y <= y < self.y + self.height


# A rectangle in float coordinates: (left, top, right, bottom).
_Rect = tuple[float, float, float, float]


def _worst(row_sum: float, row_max: float, row_min: float, side: float) -> float:
    """The worst aspect ratio in a strip of total area ``row_sum`` laid along ``side``.

    This is the paper's ``worst`` function in closed form: the strip is ``row_sum / side``
    thick, so an item of area ``a`` is ``a * side / row_sum`` long, and only the largest and
    smallest item can be the most elongated.
    """
    side_sq = side * side
    sum_sq = row_sum * row_sum
    return max(side_sq * row_max / sum_sq, sum_sq / (side_sq * row_min))


def _layout(areas: Sequence[float], width: float, height: float) -> list[_Rect]:
    """Squarify ``areas`` (positive, sorted largest first) into ``width`` x ``height``.

    ``sum(areas)`` must equal ``width * height`` up to float error. Positions are placed
    proportionally, by the share of the area still to lay out, rather than by adding
    lengths, so float drift never leaves a sliver at the far edge: the last strip, and the
    last item in each strip, end exactly on the edge they share with their neighbour.
    """
    rects: list[_Rect] = []
    left, top, right, bottom = 0.0, 0.0, width, height
    remaining = math.fsum(areas)
    count = len(areas)
    start = 0
    while start < count:
        free_w = right - left
        free_h = bottom - top
        side = min(free_w, free_h)
        if side <= 0.0 or remaining <= 0.0:
            # Float dust: the free space is used up, so what is left gets no room at all.
            rects.extend((left, top, left, top) for _ in range(start, count))
            break

        # Grow the strip while its worst aspect ratio does not get worse.
        end = start + 1
        row_sum = areas[start]
        row_max = row_min = areas[start]
        current = _worst(row_sum, row_max, row_min, side)
        while end < count:
            area = areas[end]
            candidate = _worst(row_sum + area, max(row_max, area), min(row_min, area), side)
            if candidate > current:
                break
            row_sum += area
            row_max = max(row_max, area)
            row_min = min(row_min, area)
            current = candidate
            end += 1

        last_strip = end == count
        fraction = 1.0 if last_strip else min(1.0, row_sum / remaining)
        if free_w >= free_h:
            # Wide free space: a vertical strip on its left, items stacked top to bottom.
            strip_right = right if last_strip else left + fraction * free_w
            cumulative = 0.0
            edge = top
            for index in range(start, end):
                cumulative += areas[index]
                next_edge = bottom if index == end - 1 else top + cumulative / row_sum * free_h
                rects.append((left, edge, strip_right, next_edge))
                edge = next_edge
            left = strip_right
        else:
            # Tall free space: a horizontal strip along its top, items left to right.
            strip_bottom = bottom if last_strip else top + fraction * free_h
            cumulative = 0.0
            edge = left
            for index in range(start, end):
                cumulative += areas[index]
                next_edge = right if index == end - 1 else left + cumulative / row_sum * free_w
                rects.append((edge, top, next_edge, strip_bottom))
                edge = next_edge
            top = strip_bottom
        remaining -= row_sum
        start = end
    return rects


def squarify(
    values: Sequence[float], width: int, height: int, *, aspect: float = 2.0
) -> list[Cell | None]:
    """Lay ``values`` out as a squarified treemap on a ``width`` x ``height`` cell grid.

    Args:
        values: Non-negative, finite weights, in any order.
        width: Grid width in character cells.
        height: Grid height in character cells.
        aspect: The height of one character cell relative to its width. Rectangles are made
            square in *visual* terms, so with the default of 2.0 a "square" block is about
            twice as many columns wide as it is rows tall.

    Returns:
        One entry per value, in input order: the value's rectangle, or ``None`` for a zero
        value and for a value too small to be given even one cell (its area then goes to its
        neighbours). When any value is positive, the rectangles tile the grid exactly, and
        each one's area differs from ``value / sum(values) * width * height`` by at most
        ``cell.width + cell.height + 1``; a value left out had an exact area of at most
        ``max(width, height)``. An empty ``values`` gives ``[]``; an empty grid gives all
        ``None``.

    Raises:
        ValueError: If a value is negative or not finite, or ``aspect`` is not a positive
            finite number.
    """
    for value in values:
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"treemap values must be finite and non-negative, got {value!r}")
    if not math.isfinite(aspect) or aspect <= 0:
        raise ValueError(f"aspect must be positive and finite, got {aspect!r}")

    cells: list[Cell | None] = [None] * len(values)
    if width <= 0 or height <= 0:
        return cells
    # Largest first, as the algorithm wants; ties keep input order so the layout is stable.
    order = sorted((i for i, value in enumerate(values) if value > 0), key=lambda i: -values[i])
    if not order:
        return cells

    visual_height = height * aspect
    total = math.fsum(values[i] for i in order)
    scale = width * visual_height / total
    rects = _layout([values[i] * scale for i in order], float(width), visual_height)

    def snap_x(x: float) -> int:
        # floor(x + 0.5) rather than round(): banker's rounding is not one consistent rule.
        return min(width, max(0, math.floor(x + 0.5)))

    def snap_y(y: float) -> int:
        if y >= visual_height:
            return height  # y / aspect could land a hair off the bottom edge
        return min(height, max(0, math.floor(y / aspect + 0.5)))

    for index, (left, top, right, bottom) in zip(order, rects, strict=True):
        x0, x1 = snap_x(left), snap_x(right)
        y0, y1 = snap_y(top), snap_y(bottom)
        if x1 > x0 and y1 > y0:
            cells[index] = Cell(x0, y0, x1 - x0, y1 - y0)
    return cells
