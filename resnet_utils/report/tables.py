"""Tables printed as text: many verdicts against one baseline (a dozen verdict sentences in a
row read as a wall, while a table lets the eye run down the column that matters), and the
stage layout of an ImageNet-family ResNet."""

from __future__ import annotations

from statistics import median

from resnet_utils.measure.counting import multiply_adds, parameters_per_stage
from resnet_utils.models import build_model, count_parameters
from resnet_utils.models.imagenet import STAGE_BLOCKS, STAGE_WIDTHS
from resnet_utils.report.verdicts import PERCENT, Verdict, compare


def verdict_table(
    sides: dict, base, metric: str, *, test_size: int | None = None, name: str = "variant"
) -> tuple[str, dict[str, Verdict]]:
    """Compare every side with ``base`` on ``metric`` (each a RunGroup); return the table
    (side, mean ± spread, difference, margin, verdict), with one sentence under it on what
    the margin is and how many of the verdicts chance alone would decide, one more naming the
    verdicts decided narrowly (a reader re-running with new seeds should expect those to
    move first), and the verdicts.
    """
    verdicts = {label: compare(side, base, metric, test_size=test_size) for label, side in sides.items()}
    pct = metric in PERCENT
    unit = " (points)" if pct else ""

    def number(value: float | None, sign: str = "") -> str:
        if value is None:
            return "-"
        return f"{100 * value:{sign}.1f}" if pct else f"{value:{sign}.3f}"

    header = (name, "mean ± spread", f"difference{unit}", f"margin ±{unit}", "verdict")
    rows = [
        (
            label,
            sides[label].summary(metric),
            number(v.difference, "+"),
            number(v.margin),
            v.word,
        )
        for label, v in verdicts.items()
    ]
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]

    def line(cells) -> str:  # the name left-aligned, the numbers right-aligned
        first, *rest = (str(c) for c in cells)
        return "  ".join([first.ljust(widths[0]), *(c.rjust(w) for c, w in zip(rest, widths[1:]))])

    lines = [line(r) for r in (header, *rows)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    decided = [v for v in verdicts.values() if v.margin is not None]
    base_name = getattr(base, "label", "the baseline")
    k = len(verdicts)
    what = metric.replace("_", " ")
    margin = (
        f"margin: the half-width of its {decided[0].basis}"
        if decided
        else "no margin: no comparison was made ('not compared': a side has not trained enough)"
    )
    lines.append(
        f"Difference: mean {what} minus {base_name}'s; {margin}; with {k} comparisons at 95% "
        "each, about "
        f"{k / 20:.1f} of them would read 'higher' or 'lower' by chance alone even if no variant "
        "differed from the baseline."
    )
    lines += narrowly_decided(verdicts)
    return "\n".join(lines), verdicts


def narrowly_decided(verdicts: dict) -> list[str]:
    """One line naming the verdicts beyond their margin by less than half of it, or none: a
    reader who re-runs with new seeds should expect those to move first."""
    narrow = [str(k) for k, v in verdicts.items() if v.decided and abs(v.difference) < 1.5 * v.margin]
    if not narrow:
        return []
    return [
        f"Decided narrowly (beyond the margin by less than half of it): {'; '.join(narrow)}. "
        "The margin is about two standard errors of the difference, so a re-run with other "
        f"seeds could well read {'it' if len(narrow) == 1 else 'them'} within noise."
    ]


def depth_table(
    groups: dict, metrics=("train_loss", "test_error")
) -> tuple[str, dict[tuple[str, int, str], Verdict]]:
    """He et al.'s depth question as one table: each net of ``groups`` (keyed (family, depth),
    each a RunGroup) against the shallowest net of its family, two columns per metric (the
    difference with its margin, and the verdict's word), one line under it on what the
    margins rest on. Returns the text and the verdicts by (family, depth, metric)."""
    verdicts, rows = {}, []
    for family in sorted({f for f, _ in groups}, key=lambda f: f != "plain"):
        depths = sorted(d for f, d in groups if f == family)
        for depth in depths[1:]:
            cells = [f"{family}{depth} vs {family}{depths[0]}"]
            for metric in metrics:
                v = compare(groups[family, depth], groups[family, depths[0]], metric)
                verdicts[family, depth, metric] = v
                scale, digits = (100, 1) if metric in PERCENT else (1, 3)
                size = (
                    ""
                    if v.margin is None
                    else f"{scale * v.difference:+.{digits}f} ± {scale * v.margin:.{digits}f}"
                )
                cells += [size, v.word]
            rows.append(cells)
    header = [""]
    for metric in metrics:
        header += [f"{metric.replace('_', ' ')}{' (points)' if metric in PERCENT else ''}", ""]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i % 2 == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))
        ).rstrip()
        for r in (header, *rows)
    ]
    seeds = sorted({len(g.runs) for g in groups.values()})
    paired = any("paired" in v.basis for v in verdicts.values())
    lines.append(
        "Difference: the deeper net's mean minus the shallower's; margin: the half-width of a 95% "
        f"interval from the spread over the seeds ({'/'.join(map(str, seeds))} per net)"
        + (
            ", and for test error the test set's, paired (both nets scored on the same images)"
            if paired
            else ""
        )
        + f". {len(verdicts)} comparisons at 95% each: about {len(verdicts) / 20:.1f} would read "
        "'higher' or 'lower' by chance alone."
    )
    lines += narrowly_decided({f"{f}{d} {m.replace('_', ' ')}": v for (f, d, m), v in verdicts.items()})
    return "\n".join(lines), verdicts


def ratio_table(phases: dict[str, dict[str, list[float]]], a: str, b: str) -> tuple[str, dict]:
    """The first-conv / last-conv gradient ratio of nets ``a`` and ``b`` phase by phase
    (``{phase: {net: per-seed ratios}}``): their medians, and ``a`` against ``b`` on log10
    (the ratios spread over orders of magnitude), with the margin. Returns the text and the
    verdicts by phase."""
    width = max(len(a), len(b), 10) + 2
    phase_width = max(len(p) for p in phases) + 1
    lines = [
        f"{'':<{phase_width}}{'median ratio, first conv / last conv':^{2 * width}}   {a} vs {b}, log10",
        f"{'':<{phase_width}}{a:>{width}}{b:>{width}}",
    ]
    verdicts = {}
    for phase, ratios in phases.items():
        v = verdicts[phase] = compare(ratios[a], ratios[b], "ratio", log=True, a_name=a, b_name=b)
        size = f"{v.difference:+.2f} ± {v.margin:.2f}" if v.margin else "no margin"
        medians = f"{median(ratios[a]):>{width}.3g}{median(ratios[b]):>{width}.3g}"
        lines.append(f"{phase:<{phase_width}}{medians}   {v.word} ({size})")
    return "\n".join(lines), verdicts


def stage_table(depth: int, input_sizes=((3, 224, 224), (3, 32, 32))) -> str:
    """The stage layout of an ImageNet-family ResNet with its parameters and multiply-adds."""
    kind, counts = STAGE_BLOCKS[depth]
    model = build_model(f"resnet{depth}")
    per_stage = parameters_per_stage(model)
    lines = [f"ResNet-{depth}: {kind} blocks, {list(counts)} per stage"]
    for index, (width, count) in enumerate(zip(STAGE_WIDTHS, counts), start=1):
        shape = f"{width}-d" if kind == "basic" else f"{width * 4}-d ({width} inside)"
        params = per_stage[f"layer{index}"]
        lines.append(f"  layer{index}: {count:>2} x {kind:<10} {shape:<18} {params:>11,} params")
    lines.append(f"  parameters: {count_parameters(model):,} (10 classes)")
    for size in input_sizes:
        lines.append(f"  multiply-adds at {size[1]}x{size[2]}: {multiply_adds(model, size) / 1e9:.3f} G")
    return "\n".join(lines)
