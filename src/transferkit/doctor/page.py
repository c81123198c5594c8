"""``doctor.html``: one self-contained page (thumbnails inlined as base64 JPEG) to review the findings.

Each file of a finding has a choice of keep / delete / move to a class (a label error's suggested class first);
the button downloads ``fixes.json`` with every choice other than keep, for ``transferkit doctor --apply``.
Does not import Keras.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os

from .check import Diagnosis, Finding

THUMBNAIL = 96  # pixels, the longer side
_REVIEWED = ("duplicate", "near_duplicate", "leak", "label_error", "outlier", "tiny", "extreme_aspect")

_STYLE = """
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:6px;vertical-align:top;text-align:left}.file{display:inline-block;
margin:0 8px 8px 0;width:160px;font-size:12px;word-break:break-all}.file img{display:block;max-width:96px;
max-height:96px;margin-bottom:4px}.kind{font-weight:600}button{font-size:15px;padding:6px 14px}
"""

_SCRIPT = """
function fixes(){const out=[];document.querySelectorAll('select[data-file]').forEach(s=>{const v=s.value;
if(v==='keep')return;out.push(v==='delete'?{file:s.dataset.file,action:'delete'}
:{file:s.dataset.file,action:'move',to:v.slice(5)})});return {fixes:out}}
function download(){const blob=new Blob([JSON.stringify(fixes(),null,2)],{type:'application/json'});
const a=document.createElement('a');a.href=URL.createObjectURL(blob);a.download='fixes.json';a.click()}
"""


def thumbnail(path: str) -> str:
    """A ``data:`` URL of the image at most :data:`THUMBNAIL` px, or ``""`` when it cannot be read."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.draft("RGB", (THUMBNAIL, THUMBNAIL))
            small = img.convert("RGB")
            small.thumbnail((THUMBNAIL, THUMBNAIL))
            buffer = io.BytesIO()
            small.save(buffer, "JPEG", quality=80)
    except (OSError, ValueError):
        return ""
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _choice(path: str, label: str, suggested: str | None, classes: list[str]) -> str:
    options = ['<option value="keep">keep</option>', '<option value="delete">delete</option>']
    ordered = ([suggested] if suggested else []) + [c for c in classes if c not in (suggested, label)]
    options += [f'<option value="move:{html.escape(c)}">move to {html.escape(c)}</option>' for c in ordered]
    return f'<select data-file="{html.escape(path)}">{"".join(options)}</select>'


def _row(finding: Finding, classes: list[str]) -> str:
    cells = []
    for path, label in zip(finding.files, finding.labels or [""] * len(finding.files)):
        src = thumbnail(path)
        image = f'<img src="{src}" alt="">' if src else ""
        cells.append(f'<div class="file">{image}{html.escape(path)}<br>class <b>{html.escape(label)}</b><br>'
                     f"{_choice(path, label, finding.suggested_class, classes)}</div>")  # fmt: skip
    kind = finding.kind.replace("_", " ")
    return (f'<tr><td class="kind">{kind}</td><td>{finding.score:g}</td><td>{html.escape(finding.reason)}</td>'
            f"<td>{''.join(cells)}</td></tr>")  # fmt: skip


def write_page(diagnosis: Diagnosis, path: str | os.PathLike[str]) -> None:
    """Write the review page for ``diagnosis`` to ``path``."""
    from .._util.atomic import atomic_path

    classes = diagnosis.class_names
    reviewed = [f for f in diagnosis.findings if f.kind in _REVIEWED]
    notes = [f for f in diagnosis.findings if f.kind not in _REVIEWED]
    verdicts = "".join(f"<li><b>{html.escape(c)}</b>: {html.escape(v)}</li>"
                       for c, v in diagnosis.summary["verdicts"].items())  # fmt: skip
    other = "".join(f"<li>{f.kind}: {html.escape(', '.join(f.files))}: {html.escape(f.reason)}</li>" for f in notes)
    rows = "".join(_row(f, classes) for f in reviewed)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>transferkit doctor</title>
<style>{_STYLE}</style><script>{_SCRIPT}</script></head><body>
<h1>transferkit doctor</h1><p>{diagnosis.summary["images"]} training and {diagnosis.summary["val_images"]}
validation images; counts by kind: {html.escape(json.dumps(diagnosis.summary["by_kind"]))}</p>
<ul>{verdicts}</ul>{f"<h2>Notes</h2><ul>{other}</ul>" if other else ""}
<h2>Findings to review</h2><p>Choose per file, then <button onclick="download()">download fixes.json</button>
and run <code>transferkit doctor --apply fixes.json DATA_DIR [--val-dir DIR]</code> (a dry run; add
<code>--yes</code> to move the files; deleted ones go to <code>_removed/</code>).</p>
<table><tr><th>kind</th><th>score</th><th>why</th><th>files</th></tr>{rows}</table></body></html>
"""
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
