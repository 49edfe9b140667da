"""The units page: per unit its top sounds (spectrogram, player, place in the file, label, activation),
a concept line, and an index of all units sortable by selectivity and label purity.

Static HTML linking segments/ relatively, so it works from file:// and the folder can be moved or served
as it is. index.html holds the index (and the units themselves when there are few); more units go on
pages of UNITS_PER_PAGE, since thousands of players on one page make a browser crawl. Thumbnails load
lazily and players fetch nothing until played. A small inline script sorts the index; without it the
index stays sorted by selectivity.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from ..atomic import atomic_path
from ..formats.loading import model_label
from ..inference.predict import category_names
from ..jobs.clip_lists import read_list
from ..model.architecture import INPUT_SCALE, SAMPLE_RATE
from ..model.network import SoundNet
from ..outputs import write_json
from .unit_segments import write_segments
from .visualize import (
    DEFAULT_TOP,
    DEFAULT_UNITS,
    DEFAULT_UNITS_LAYER,
    PeakStats,
    informative,
    layer_channels,
    parse_units,
    rank_units,
)

CONCEPTS_SHOWN = 3
SORT_KEYS = (
    ("unit", "unit"),
    ("selectivity", "selectivity"),
    ("active", "active_clips"),
    ("purity", "purity"),
    ("peak", "max_activation"),
)  # index columns a click sorts: (data attribute, summary field)
UNITS_PER_PAGE = 32  # 288 players and thumbnails a page: opens at once

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1600px}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.15em;margin:0}
.settings,.how{color:#555;margin:.3em 0} .settings b{color:#222}
#index{border-collapse:collapse;font-size:.9em;margin:1em 0} #index td,#index th{padding:2px 10px;text-align:left}
#index th[data-key]{cursor:pointer;text-decoration:underline dotted} #index tbody tr:nth-child(odd){background:#f4f4f4}
.index-box{max-height:22em;overflow-y:auto;display:inline-block;border:1px solid #ddd}
section{border-top:1px solid #ccc;padding:.8em 0}
.concept{margin:.3em 0 .6em;color:#333} .concept .k{color:#777}
.tiles{display:flex;flex-wrap:wrap;gap:10px}
figure{margin:0;width:160px;font-size:.78em;line-height:1.35}
figure img{display:block;width:160px;height:64px;background:#000}
figure audio{width:160px;height:28px;margin-top:2px}
.file{font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;display:block}
.bar{display:inline-block;width:70px;height:7px;background:#ddd;vertical-align:middle;margin-right:4px}
.bar span{display:block;height:100%;background:#c2410c}
.label{background:#e0ecff;border-radius:3px;padding:0 3px}
a.up{font-size:.75em;font-weight:normal;margin-left:.6em}
"""

SORT_SCRIPT = """
for (const head of document.querySelectorAll('#index th[data-key]')) {
  head.addEventListener('click', () => {
    const body = document.querySelector('#index tbody');
    const key = head.dataset.key, descending = head.dataset.order !== 'descending';
    head.dataset.order = descending ? 'descending' : 'ascending';
    const value = row => row.dataset[key] === '' ? null : Number(row.dataset[key]);
    const rows = [...body.rows].sort((a, b) => {
      const x = value(a), y = value(b);
      if (x === null || y === null) return (x === null) - (y === null);
      return descending ? y - x : x - y;
    });
    body.append(...rows);
  });
}
"""


def _label_purity(hits: Sequence[dict]) -> tuple[str | None, float | None]:
    labels = Counter(hit["label"] for hit in hits if hit["label"] is not None)
    if not labels:
        return None, None
    label, count = labels.most_common(1)[0]
    return label, count / len(hits)


def unit_summaries(hits: list[dict], stats: PeakStats, units: Sequence[int]) -> list[dict]:
    """Per unit: selectivity, peak statistics, label purity and the most frequent concepts of its top hits.

    Adds to each hit its activation as a fraction of its unit's maximum over the collection (None when
    the unit never rose above 0, where a fraction would mean nothing).
    """
    by_unit: dict[int, list[dict]] = {unit: [] for unit in units}
    for hit in hits:
        by_unit[hit["unit"]].append(hit)
    summaries = []
    for unit, selectivity, high, mean, active in zip(
        units, stats.selectivity(), stats.high, stats.means(), stats.active
    ):
        for hit in by_unit[unit]:
            hit["fraction"] = round(hit["activation"] / high, 4) if high > 0 else None
        label, purity = _label_purity(by_unit[unit])
        summaries.append(
            {
                "unit": unit,
                "max_activation": float(high),
                "mean_peak": mean,
                "active_clips": int(active),
                "selectivity": None if selectivity is None else round(selectivity, 4),
                "label": label,
                "purity": None if purity is None else round(purity, 4),
                **{
                    kind: Counter(hit[kind] for hit in by_unit[unit]).most_common(CONCEPTS_SHOWN)
                    for kind in ("object", "scene")
                    if by_unit[unit] and kind in by_unit[unit][0]
                },
            }
        )
    return summaries


def file_time(hit: dict) -> str:
    """'0.21–1.00 s'; '2.00–2.35 + 0.00–0.45 s' when the segment wraps around a tiled clip; or the whole file."""
    if hit["looped"]:
        return f"whole file ({hit['clip_seconds']:.2f} s), looped"
    return " + ".join(f"{a:.2f}&ndash;{b:.2f}" for a, b in hit["file_spans"]) + " s"


def _number(value: float | None, digits: int = 2) -> str:
    return "&ndash;" if value is None else f"{value:.{digits}f}"


def _tile(hit: dict) -> str:
    name = html.escape(Path(hit["clip"]).name)
    fraction = hit["fraction"]
    width = 0 if fraction is None else max(0.0, min(1.0, fraction)) * 100
    label = f' <span class="label">{html.escape(str(hit["label"]))}</span>' if hit["label"] is not None else ""
    concept = (
        f'<br><span title="top object and scene of the teacher heads here">'
        f"{html.escape(hit['object'])} · {html.escape(hit['scene'])}</span>"
        if "object" in hit
        else ""
    )
    return (
        f'<figure><img src="{quote(hit["thumbnail"])}" width="160" height="64" loading="lazy" '
        f'alt="spectrogram of {name}, {file_time(hit)}">'
        f'<figcaption><span class="file" title="{html.escape(hit["clip"])}">{hit["rank"]}. {name}</span>'
        f"{file_time(hit)}{label}<br>"
        f'<span class="bar" title="activation {hit["activation"]:.4g}"><span style="width:{width:.0f}%"></span>'
        f"</span>{_number(fraction)}{concept}</figcaption>"
        f'<audio controls preload="none" src="{quote(hit["audio"])}"></audio></figure>'
    )


def _counted(pairs: list) -> str:
    return ", ".join(f"{html.escape(name)} ({count})" for name, count in pairs)


def concept_line(summary: dict) -> str:
    """What the unit's top sounds have in common: concepts of the teacher heads, labels, selectivity."""
    parts = []
    if summary.get("object"):
        parts.append(f'<span class="k">objects</span> {_counted(summary["object"])}')
        parts.append(f'<span class="k">scenes</span> {_counted(summary["scene"])}')
    if summary["purity"] is not None:
        parts.append(
            f'<span class="k">label purity</span> {summary["purity"]:.2f} ({html.escape(str(summary["label"]))})'
        )
    parts.append(f'<span class="k">selectivity</span> {_number(summary["selectivity"])}')
    parts.append(f'<span class="k">max activation</span> {summary["max_activation"]:.4g}')
    parts.append(f'<span class="k">above 0 on</span> {summary["active_clips"]} clips')
    if summary["selectivity"] is None:
        parts.append("the same peak on every clip: no segment stands out")
    return " · ".join(parts)


def _section(summary: dict, hits: list[dict], index_href: str) -> str:
    unit = summary["unit"]
    tiles = "\n".join(_tile(hit) for hit in hits)
    return (
        f'<section id="unit-{unit}"><h2>unit {unit}<a class="up" href="{index_href}">index</a></h2>\n'
        f'<p class="concept">{concept_line(summary)}</p>\n<div class="tiles">\n{tiles}\n</div></section>'
    )


def _index(summaries: list[dict], labels: bool, concepts: bool, href: dict[int, str]) -> str:
    def key(summary: dict) -> tuple:
        return (summary["selectivity"] is None, -(summary["selectivity"] or 0), summary["unit"])

    rows = []
    for s in sorted(summaries, key=key):
        cells = [f'<a href="{href[s["unit"]]}">{s["unit"]}</a>', _number(s["selectivity"]), str(s["active_clips"])]
        if labels:
            cells.append(_number(s["purity"]) + (f" {html.escape(str(s['label']))}" if s["label"] is not None else ""))
        if concepts:
            cells += [
                html.escape(s["object"][0][0]) if s.get("object") else "",
                html.escape(s["scene"][0][0]) if s.get("scene") else "",
            ]
        cells.append(f"{s['max_activation']:.4g}")
        data = " ".join(f'data-{name}="{"" if s[field] is None else s[field]}"' for name, field in SORT_KEYS)
        rows.append(f"<tr {data}>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    heads = [
        '<th data-key="unit">unit</th>',
        '<th data-key="selectivity">selectivity</th>',
        '<th data-key="active">clips above 0</th>',
    ]
    if labels:
        heads.append('<th data-key="purity">label purity</th>')
    if concepts:
        heads += ["<th>most frequent object</th>", "<th>most frequent scene</th>"]
    heads.append('<th data-key="peak">max activation</th>')
    return (
        f'<div class="index-box"><table id="index"><thead><tr>{"".join(heads)}</tr></thead>\n<tbody>\n'
        + "\n".join(rows)
        + "\n</tbody></table></div>"
    )


def settings_line(summary: dict) -> str:
    layer, field = summary["layer"], summary["receptive_field_s"]
    return (
        f"<b>model</b> {html.escape(summary['model'])} ({summary['architecture']}) · "
        f"<b>layer</b> {layer['name']} (Torch index {layer['index']}, {len(summary['units'])} of "
        f"{summary['channels']} units) · <b>receptive field</b> {field['size']:.2f} s every "
        f"{field['stride']:.3f} s · <b>collection</b> {summary['clips']} clips, shorter ones tiled to 10 s · "
        f"<b>input scale</b> {summary['scale']:g} · <b>top</b> {summary['top']} per unit"
    )


def _document(title: str, body: str, script: str = "") -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<link rel="icon" href="data:,">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n"
        + (f"<script>{script}</script>\n" if script else "")
        + "</body>\n</html>\n"
    )


def _explanation(concepts: bool, labels: bool) -> str:
    how = (
        "Per unit, the segments of the collection that excite it most: each segment is the receptive field "
        "of the time step where the unit peaks in that clip (steps that would hear the zero padding beyond the "
        "input are left out, and so are clips at the unit's lowest peak). Times are in the original file (a "
        "segment of a tiled short clip may wrap around its end). The bar is the activation as a fraction of "
        "the unit's maximum over the collection. Selectivity is how far the mean of the unit's top peaks lies "
        "above the mean of all clips' peaks, in standard deviations of those peaks: high when a few clips "
        "drive the unit well above the rest."
    )
    if concepts:
        how += (
            " Objects and scenes are the teacher heads' most likely classes on a window centred on each top "
            "segment, counted over the unit's top segments."
        )
    if labels:
        how += " Label purity is the share of the top segments carrying the most frequent label."
    return how


def page_name(chunk: list[dict]) -> str:
    return f"units-{chunk[0]['unit']}-{chunk[-1]['unit']}.html"


def pages(summary: dict, units: list[dict], hits: list[dict]) -> dict[str, str]:
    """File name -> HTML: index.html (title, settings, how to read, the sortable index), and the units'
    sections: in index.html itself for up to UNITS_PER_PAGE units, else in pages of that many units."""
    labels = any(hit["label"] is not None for hit in hits)
    concepts = any("object" in hit for hit in hits)
    by_unit: dict[int, list[dict]] = {u["unit"]: [] for u in units}
    for hit in hits:
        by_unit[hit["unit"]].append(hit)
    chunks = [units[i : i + UNITS_PER_PAGE] for i in range(0, len(units), UNITS_PER_PAGE)]
    single = len(chunks) == 1
    href = {u["unit"]: ("" if single else page_name(chunk)) + f"#unit-{u['unit']}" for chunk in chunks for u in chunk}
    title = f"What the units of {summary['architecture']} {summary['layer']['name']} hear"
    header = (
        f'<h1>{html.escape(title)}</h1>\n<p class="settings">{settings_line(summary)}</p>\n'
        f'<p class="how">{_explanation(concepts, labels)}</p>'
    )
    index_href = "#index" if single else "index.html#index"
    sections = {
        page_name(chunk): "\n".join(_section(u, by_unit[u["unit"]], index_href) for u in chunk) for chunk in chunks
    }
    listing = (
        ""
        if single
        else "<p>Pages: "
        + " · ".join(
            f'<a href="{name}">units {chunk[0]["unit"]}&ndash;{chunk[-1]["unit"]}</a>'
            for name, chunk in zip(sections, chunks)
        )
        + "</p>"
    )
    index_body = f"{header}\n{_index(units, labels, concepts, href)}\n{listing}"
    if single:
        return {
            "index.html": _document(
                title, f"{index_body}\n<main>\n{next(iter(sections.values()))}\n</main>", SORT_SCRIPT
            )
        }
    result = {"index.html": _document(title, index_body, SORT_SCRIPT)}
    names = list(sections)
    for position, name in enumerate(names):
        links = ['<a href="index.html">index</a>']
        if position:
            links.append(f'<a href="{names[position - 1]}">previous</a>')
        if position + 1 < len(names):
            links.append(f'<a href="{names[position + 1]}">next</a>')
        chunk = chunks[position]
        result[name] = _document(
            f"{title}: units {chunk[0]['unit']}-{chunk[-1]['unit']}",
            f"{header}\n<p>{' · '.join(links)}</p>\n<main>\n{sections[name]}\n</main>\n<p>{' · '.join(links)}</p>",
        )
    return result


def write_unit_page(summary: dict, hits: list[dict], stats: PeakStats, out_dir: str | Path) -> tuple[Path, Path]:
    """`ranking.json` (settings, per-unit summaries, every hit), `index.html` and any unit pages in out_dir."""
    out_dir = Path(out_dir)
    units = unit_summaries(hits, stats, summary["units"])
    write_json(out_dir / "ranking.json", {**summary, "unit_summaries": units, "hits": hits})
    for name, text in pages(summary, units, hits).items():
        with atomic_path(out_dir / name) as tmp:
            tmp.write_text(text, encoding="utf-8")
    return out_dir / "ranking.json", out_dir / "index.html"


def visualize_units(
    model: SoundNet,
    list_file: str | Path,
    out_dir: str | Path,
    *,
    root: str | Path | None = None,
    layer: int | str = DEFAULT_UNITS_LAYER,
    units: str = DEFAULT_UNITS,
    top: int = DEFAULT_TOP,
    scale: float = INPUT_SCALE,
    categories: str | Path | None = None,
) -> tuple[str, Path, Path]:
    """Rank the listed clips for the chosen units of `layer`, cut their segments and write the pages;
    (summary line, json, index html). `categories` names the heads' classes when the model file has none."""
    spec = model.architecture.layer(layer)
    channels = layer_channels(model, spec)
    chosen = parse_units(units, channels)
    clips = read_list(list_file, root, labels="optional")
    names = None if model.architecture.is_classifier else category_names(model, categories)
    ranking, stats = rank_units(model, [clip.path for clip in clips], spec, chosen, top, scale)
    field = model.architecture.receptive_field(spec)
    hits = write_segments(informative(ranking, stats), clips, model, field, scale, Path(out_dir), names)
    summary = {
        "model": model_label(model),
        "architecture": model.name,
        "layer": {"index": spec.index, "name": spec.name},
        "channels": channels,
        "scale": scale,
        "top": top,
        "units": chosen,
        "clips": len(clips),
        "receptive_field": vars(field),
        "receptive_field_s": {"size": field.size / SAMPLE_RATE, "stride": field.stride / SAMPLE_RATE},
    }
    report, index = write_unit_page(summary, hits, stats, out_dir)
    return f"ranked {len(clips)} clips for {len(chosen)} units; wrote {index} and {report}", report, index
