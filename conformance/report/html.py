"""report.html: one self-contained page (inline CSS and JS, no network) that a person reads at a
glance: a verdict per API version on top, then every requirement, filterable by API version, group
and outcome (the filter lives in the URL hash, so a filtered view can be linked)."""

from __future__ import annotations

import html
from typing import Any

from conformance.report.model import (
    API_VERSIONS,
    OUTCOMES,
    failure_details,
    identity,
    profile_rows,
    reproductions,
    warnings,
)

LABELS = {"pass": "passed", "fail": "failed", "error": "errors", "skip": "SKIPPED", "not_applicable": "n/a"}

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:20px;color:#1b1f24}
h1{font-size:20px;margin:0 0 4px}.meta{color:#57606a;margin-bottom:14px}
.warning{background:#fff1e5;border:1px solid #bc4c00;padding:8px 12px;margin:8px 0;border-radius:6px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:14px}
.card{border:2px solid #d0d7de;border-radius:8px;padding:10px 14px;min-width:260px}
.card.PASS{border-color:#1a7f37}.card.FAIL{border-color:#cf222e}
.verdict{font-size:22px;font-weight:700}.PASS .verdict{color:#1a7f37}.FAIL .verdict{color:#cf222e}
.counts span{display:inline-block;margin-right:10px;font-size:15px}
.n-fail,.n-error{color:#cf222e;font-weight:700}.n-skip{color:#bc4c00;font-weight:700}
.counts .zero{color:#6e7781;font-weight:400}.note{color:#57606a;font-size:12px}
.box{border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;margin:10px 0}
.box.fail{border-color:#cf222e;background:#fff5f5}.box.pass{border-color:#1a7f37;background:#f4fff6}
.filters{position:sticky;top:0;background:#fff;padding:8px 0;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eaeef2;padding:3px 6px;
text-align:left;vertical-align:top;overflow-wrap:break-word}th{background:#f6f8fa}
#requirements{table-layout:fixed}#requirements td:first-child{overflow-wrap:anywhere}
td.o{font-weight:700}.o-fail td.o,.o-error td.o{color:#cf222e}.o-skip td.o{color:#bc4c00}.o-pass td.o{color:#1a7f37}
.o-not_applicable td.o{color:#6e7781;font-weight:400}
tr.o-fail td:first-child,tr.o-error td:first-child{border-left:4px solid #cf222e}
tr.o-skip td:first-child{border-left:4px solid #d4a72c}tr.o-pass td:first-child{border-left:4px solid #2da44e}
.badge{font-size:11px;border-radius:8px;padding:0 6px;margin-left:4px;background:#ddf4ff}
pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:2px 0;font-size:12px;max-height:16em;overflow:auto}
.sub{color:#57606a;font-size:12px}details{margin:8px 0}
"""

_SCRIPT = """
(function(){
  var sel={version:document.getElementById('f-version'),group:document.getElementById('f-group'),
           outcome:document.getElementById('f-outcome')};
  var rows=Array.prototype.slice.call(document.querySelectorAll('tr.req'));
  function apply(){
    var n=0;
    rows.forEach(function(r){
      var show=(!sel.version.value||r.dataset.version===sel.version.value)&&
               (!sel.group.value||r.dataset.group===sel.group.value)&&
               (!sel.outcome.value||r.dataset.outcome===sel.outcome.value);
      if(show){r.removeAttribute('hidden');n++;}else{r.setAttribute('hidden','');}
    });
    var header=null,seen=false;  // a group's header row shows while one of its rows does
    document.querySelectorAll('tr.grp,tr.req').forEach(function(r){
      if(r.classList.contains('grp')){if(header){header.hidden=!seen;}header=r;seen=false;}
      else if(!r.hasAttribute('hidden')){seen=true;}
    });
    if(header){header.hidden=!seen;}
    document.getElementById('shown-count').textContent=String(n);
    var parts=[];
    Object.keys(sel).forEach(function(k){if(sel[k].value){parts.push(k+'='+encodeURIComponent(sel[k].value));}});
    var hash=parts.join('&');
    if(location.hash.slice(1)!==hash){history.replaceState(null,'',hash?'#'+hash:location.pathname+location.search);}
  }
  function fromHash(){
    location.hash.slice(1).split('&').forEach(function(p){
      var kv=p.split('=');if(sel[kv[0]]){sel[kv[0]].value=decodeURIComponent(kv[1]||'');}
    });
  }
  Object.keys(sel).forEach(function(k){sel[k].addEventListener('change',apply);});
  window.addEventListener('hashchange',function(){fromHash();apply();});
  fromHash();apply();
})();
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _card(version: str, s: dict[str, Any]) -> str:
    verdict = "FAIL" if s["fail"] or s["error"] else "PASS"
    percent = "n/a" if s["conformance_percent"] is None else f"{s['conformance_percent']}%"
    counts = "".join(
        f'<span class="n-{o}{"" if s[o] else " zero"}">{LABELS[o]} <b id="count-{version}-{o}">{s[o]}</b></span>'
        for o in OUTCOMES
    )
    ran = s["pass"] + s["fail"] + s["error"]
    note = "" if ran else '<div class="note">nothing ran: no requirement passed or failed</div>'
    return (
        f'<div class="card {verdict}" id="card-{version}"><div>{_e(version)}</div>'
        f'<div class="verdict">{verdict}</div><div>MUST conformance <b id="percent-{version}">{percent}</b></div>'
        f'<div class="counts">{counts}</div>{note}</div>'
    )


def _gate(gate: dict[str, Any] | None) -> str:
    if not gate:
        return ""
    reasons = "".join(f"<li>{_e(r)}</li>" for r in gate["reasons"])
    baseline = f", baseline {_e(gate['baseline'])}" if gate.get("baseline") else ""
    return (
        f'<div class="box {gate["verdict"]}" id="gate"><b>Gate: {gate["verdict"].upper()}</b> (exit '
        f"{gate['exit_code']}; API versions {_e(', '.join(gate['gated_versions']))}{baseline}; "
        f"{len(gate['baselined'])} baselined, {len(gate['should_failures'])} SHOULD failures)"
        f"{f'<ul>{reasons}</ul>' if reasons else ''}</div>"
    )


def _comparison(c: dict[str, Any] | None, release: str) -> str:
    if not c:
        return ""
    prev = c["previous"]
    items = [f"<li>release changed: {_e(prev['release'])} &rarr; {_e(release)}</li>"] if c["release_changed"] else []
    for key, label in (("newly_failing", "newly failing"), ("newly_passing", "newly passing"), ("new_endpoints",
                       "new endpoints")):  # fmt: skip
        ids = c.get(key) or []
        items.append(f"<li>{label} ({len(ids)}): {_e(', '.join(ids)) or 'none'}</li>")
    return (
        f'<div class="box" id="comparison"><b>Changes since {_e(prev["run_id"])}</b> '
        f"(Langflow {_e(prev['release'])})<ul>{''.join(items)}</ul></div>"
    )


def _detail(r: dict[str, Any]) -> str:
    if r["outcome"] in ("skip", "not_applicable"):
        return _e(r.get("reason", ""))
    if r["outcome"] not in ("fail", "error"):
        return ""
    parts = [f"<pre>{_e(r.get('message', ''))}</pre>"]
    parts += [f'<div class="sub"><b>{key}</b>: {_e(value)}</div>' for key, value in failure_details(r)]
    curls = reproductions(r)
    if curls:
        parts.append(f"<pre>{_e(chr(10).join(curls))}</pre>")
    return "".join(parts)


def _row(r: dict[str, Any]) -> str:
    badges = "".join(
        f'<span class="badge">{_e(b)}</span>'
        for b in (r.get("change"), "baselined" if r.get("baselined") else None)
        if b
    )
    return (
        f'<tr class="req o-{r["outcome"]}" data-version="{_e(r["api_version"])}" data-group="{_e(r["group"])}" '
        f'data-outcome="{_e(r["outcome"])}" data-id="{_e(r["id"])}"><td>{_e(r["id"])}{badges}'
        f'<div class="sub">{_e(r["method"])} {_e(r["path"])}</div></td><td>{_e(r["kind"])}</td>'
        f'<td>{_e(r["level"])}</td><td class="o">{_e(LABELS.get(r["outcome"], r["outcome"]))}</td>'
        f"<td>{r.get('duration_s', 0):.2f}</td><td>{_detail(r)}</td></tr>"
    )


def _select(name: str, label: str, values: list[tuple[str, str]]) -> str:
    options = "".join(f'<option value="{_e(v)}">{_e(text)}</option>' for v, text in values)
    return f'<label>{label} <select id="f-{name}"><option value="">all</option>{options}</select></label> '


def _drift(d: dict[str, Any] | None) -> str:
    if not d:
        return ""
    if "unknown_to_contract" not in d:
        body = f"<p>{_e(d.get('openapi', ''))}</p>"
    else:
        unknown = "".join(f"<li>{_e(g)}: {_e(', '.join(ops))}</li>" for g, ops in d["unknown_to_contract"].items())
        body = (
            f"<p>{_e(d.get('openapi', ''))}</p><ul><li>documented, missing: {len(d['documented_missing'])} "
            f"{_e(', '.join(map(str, d['documented_missing'])))}</li><li>documented, not listed but served: "
            f"{len(d['documented_not_listed_but_served'])}</li><li>type conflicts (warnings): "
            f"{len(d['type_conflicts'])}</li></ul><p>Unknown to the contract, per group:</p><ul>{unknown}</ul>"
        )
    title = "Drift: the server's /openapi.json against the contract"
    return f'<details id="drift"><summary>{title}</summary>{body}</details>'


def _endpoints(endpoints: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{_e(e['api_version'])}</td><td>{_e(eid)}</td><td>{_e(e['operation'])}</td>"
        f"<td>{_e(LABELS.get(e['outcome'], e['outcome']))}</td><td>{_e('; '.join(e.get('reasons', [])))}</td></tr>"
        for eid, e in endpoints.items()
    )
    return (
        f'<details id="endpoints"><summary>Endpoint coverage ({len(endpoints)} catalog endpoints)</summary>'
        f"<table><tr><th>API version</th><th>endpoint</th><th>operation</th><th>outcome</th><th>why not "
        f"exercised</th></tr>{rows}</table></details>"
    )


def render_html(report: dict[str, Any]) -> str:
    t, reqs = report["target"], report["requirements"]
    seed = report.get("property", {}).get("seed")
    meta = (
        f"{_e(t['url'])} · contract edition {_e(report['contract']['edition'])} · mode {_e(report['mode'])}"
        f"{f' · seed {seed}' if seed is not None else ''} · started {_e(report['started_at'])} · "
        f"{report['duration_s']:.1f} s · {report['requests']} requests · run {_e(report['run_id'])} · "
        f"{_e(identity(report))}"
    )
    alerts = "".join(f'<div class="warning"><b>WARNING:</b> {_e(w)}</div>' for w in warnings(report))
    rows = profile_rows(report)
    profile = (
        '<h2>Deployment profile</h2><table class="profile"><tr><th>feature</th><th>state</th>'
        "<th>turned on by</th><th>how it was told</th></tr>"
        + "".join(
            f"<tr><td>{_e(f)}</td><td>{_e(s)}</td><td><code>{_e(k)}</code></td><td>{_e(h)}</td></tr>"
            for f, s, k, h in rows
        )
        + "</table>"
        if rows
        else ""
    )
    cards = "".join(_card(v, s) for v, s in report["summary"].items() if s["total"])
    versions = [(v, v) for v in API_VERSIONS if report["summary"][v]["total"]]
    groups = sorted({r["group"] for r in reqs})
    filters = (
        _select("version", "API version", versions)
        + _select("group", "group", [(g, g) for g in groups])
        + _select("outcome", "outcome", [(o, LABELS[o]) for o in OUTCOMES])
        + f'<span>showing <b id="shown-count">{len(reqs)}</b> of {len(reqs)} requirements</span>'
    )
    body, version, group = [], None, None
    for r in reqs:  # ordered by API version, group, id (report.model.build)
        if r["api_version"] != version or r["group"] != group:
            version, group = r["api_version"], r["group"]
            body.append(
                f'<tr class="grp" data-version="{_e(version)}" data-group="{_e(group)}"><th colspan="6">'
                f"{_e(version)} · {_e(group)}</th></tr>"
            )
        body.append(_row(r))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Langflow conformance: {_e(t.get('release', '?'))}</title><style>{_STYLE}</style></head><body>"
        f'<h1>Langflow {_e(t.get("release", "?"))} conformance</h1>{alerts}<div class="meta">{meta}</div>'
        f'<div class="cards">{cards}</div>{_gate(report.get("gate"))}{profile}'
        f"{_comparison(report.get('comparison'), t.get('release', '?'))}"
        f'<div class="filters">{filters}</div><table id="requirements"><colgroup><col style="width:24em">'
        '<col style="width:6.5em"><col style="width:5.5em"><col style="width:6.5em"><col style="width:3.5em"><col>'
        "</colgroup><tr><th>requirement</th><th>kind</th>"
        f"<th>level</th><th>outcome</th><th>s</th><th>detail</th></tr>{''.join(body)}</table>"
        f"{_drift(report.get('drift'))}{_endpoints(report.get('endpoints', {}))}"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )
