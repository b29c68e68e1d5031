"""The web UI's run view as one self-contained HTML file (``chatsnapshot view RUN -o run.html``).

The same code and styles as the app's run page (``static/dom.js``, ``static/graph.js``, ``static/run.js``,
``static/app.css``), inlined, with the run document and every envelope of the run carried in
the file: it opens anywhere, with no server and no network. The modules are joined into one
script by dropping their ``import`` lines and ``export`` keywords (they import only each other).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from pathlib import Path

from chatsnapshot.ledger import Envelope, RunSummary, envelope_to_json
from chatsnapshot.ui.runview import legend, run_document

__all__ = ["export_page"]

_STATIC = Path(__file__).parent / "static"
_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"  # nothing leaves
_IMPORT = re.compile(r"^import .*?;\n", re.MULTILINE)
_BOOT = """
const data = JSON.parse(document.getElementById("run-data").textContent);
const load = async (path) => {
  const fact = path.match(/\\/facts\\/(\\d+)$/);
  if (fact) return data.envelopes[fact[1]];
  if (path.includes("after_seq=")) return { ...data.document, facts: [], conversation: [] };
  return data.document;
};
const params = new URLSearchParams(location.hash.split("?")[1] || "");
runView(document.getElementById("main"), data.document.run.correlation_id, params, new Set(), { legend: data.legend },
  load);
"""


def _script() -> str:
    parts = [(_STATIC / name).read_text() for name in ("dom.js", "graph.js", "run.js")]
    code = "\n".join(_IMPORT.sub("", part) for part in parts)
    return re.sub(r"^export ", "", code, flags=re.MULTILINE) + _BOOT


def _embed(value: object) -> str:
    """JSON safe inside a <script> element: no <, > or & of its own (no end tag, no comment opener)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def export_page(facts: Sequence[Envelope], runs: Sequence[RunSummary] = ()) -> str:
    """One HTML page of the run ``facts`` (its replay, in seq order)."""
    document = run_document(list(facts), list(runs))  # its forks: describe's, from runs
    data = {"document": document, "legend": legend(),
            "envelopes": {str(f.seq): envelope_to_json(f) for f in facts}}
    title = html.escape(f"Run {document['run']['correlation_id']}")
    return (
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{_CSP}\">\n"
        f"<title>{title} · ChatSnapshot</title>\n<style>\n{(_STATIC / 'app.css').read_text()}</style>\n"
        "</head>\n<body>\n"
        "<header class=\"top\"><span class=\"brand\">ChatSnapshot</span>"
        "<span class=\"source\">exported by chatsnapshot view</span></header>\n"
        "<main id=\"main\" tabindex=\"-1\"></main>\n"
        f"<script type=\"application/json\" id=\"run-data\">{_embed(data)}</script>\n"
        f"<script type=\"module\">\n{_script()}</script>\n</body>\n</html>\n"
    )
