import { createHash } from 'node:crypto';

/**
 * The console's only script and stylesheet, inlined in every page so it works offline and the
 * export is one file. The script is allowed by its hash in the Content-Security-Policy, so no
 * other script (an injected one included) can run even if escaping were ever missed.
 */

/*
 * Live updates: on an `audit` event for this page's cluster, fetch the same URL with
 * fragment=1 and swap <main>. At most one fetch runs; events meanwhile coalesce into one more.
 * A reconnect refreshes too, since events sent while disconnected were not seen.
 */
export const CLIENT_SCRIPT = `(() => {
  const body = document.body;
  document.addEventListener('change', (e) => {
    const t = e.target;
    if (t instanceof HTMLSelectElement && t.dataset.autosubmit !== undefined && t.form) t.form.submit();
  });
  // Zoom: drag across a timeline to show that range (the server draws it; links work without this).
  let drag = null;
  const timeAt = (svg, clientX) => {
    const r = svg.getBoundingClientRect();
    const vb = svg.viewBox.baseVal;
    const x = ((clientX - r.left) / r.width) * vb.width;
    const x0 = Number(svg.dataset.x0), x1 = Number(svg.dataset.x1), t0 = Number(svg.dataset.t0), t1 = Number(svg.dataset.t1);
    return t0 + ((Math.min(Math.max(x, x0), x1) - x0) / (x1 - x0)) * (t1 - t0);
  };
  document.addEventListener('mousedown', (e) => {
    const svg = e.target instanceof Element ? e.target.closest('svg.timeline') : null;
    if (!svg || e.button !== 0) return;
    const brush = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
    brush.setAttribute('class', 'brush');
    brush.setAttribute('y', '0');
    brush.setAttribute('height', String(svg.viewBox.baseVal.height));
    svg.appendChild(brush);
    drag = { svg, brush, x: e.clientX };
    e.preventDefault();
  });
  document.addEventListener('mousemove', (e) => {
    if (!drag) return;
    const r = drag.svg.getBoundingClientRect();
    const k = drag.svg.viewBox.baseVal.width / r.width;
    const a = (Math.min(drag.x, e.clientX) - r.left) * k, b = (Math.max(drag.x, e.clientX) - r.left) * k;
    drag.brush.setAttribute('x', String(a));
    drag.brush.setAttribute('width', String(b - a));
  });
  document.addEventListener('mouseup', (e) => {
    if (!drag) return;
    const d = drag;
    drag = null;
    d.brush.remove();
    if (Math.abs(e.clientX - d.x) < 8) return;
    const a = timeAt(d.svg, Math.min(d.x, e.clientX)), b = timeAt(d.svg, Math.max(d.x, e.clientX));
    const u = new URL(location.href);
    u.searchParams.delete('range');
    u.searchParams.set('since', new Date(a).toISOString());
    u.searchParams.set('until', new Date(b).toISOString());
    location.assign(u.toString());
  });
  const main = document.querySelector('main');
  const source = body.dataset.events;
  if (!main || !source || typeof EventSource === 'undefined') return;
  const cluster = body.dataset.cluster || '';
  const live = document.getElementById('live');
  const show = (state, text) => { body.dataset.live = state; if (live) live.textContent = text; };
  let busy = false, again = false, opened = false;
  const refresh = async () => {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const u = new URL(location.href);
      u.searchParams.set('fragment', '1');
      const r = await fetch(u, { credentials: 'same-origin', cache: 'no-store' });
      if (r.ok) {
        main.innerHTML = await r.text();
        body.dataset.updates = String(Number(body.dataset.updates || '0') + 1);
      }
    } catch (_) {
      // the next event or reconnect refreshes again
    } finally {
      busy = false;
      if (again) { again = false; void refresh(); }
    }
  };
  const es = new EventSource(source);
  es.addEventListener('open', () => { show('on', 'live'); if (opened) void refresh(); opened = true; });
  es.addEventListener('error', () => show('off', 'reconnecting…'));
  es.addEventListener('audit', (ev) => { if (!cluster || ev.data === cluster) void refresh(); });
})();`;

export const STYLE = `
body{font-family:Helvetica,Arial,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1f2d3d;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
header a{color:#cfe3ff}
header h1{font-size:1.1rem;margin:0}
header form{margin-left:auto;display:flex;gap:.4rem;align-items:center;font-size:.85rem}
header input{width:11rem}
main{padding:1rem 1.2rem}
h2{font-size:1rem;margin:1.2rem 0 .4rem}
table{border-collapse:collapse;font-size:.88rem;background:#fff}
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f0f0}
code{font-size:.85rem}
.state{font-weight:bold}
.state-attention,.bad{color:#b00000}
.ok{color:#1a7f37}
.muted{color:#777}
.live{font-size:.8rem;padding:.1rem .4rem;border-radius:.6rem;background:#555}
body[data-live="on"] .live{background:#1a7f37}
.diagram{overflow:auto;border:1px solid #ddd;background:#fff;padding:.5rem}
.diagram svg{max-width:100%;height:auto}
.episode{background:#fff;border:1px solid #ddd;margin:.5rem 0;padding:.4rem .6rem}
.episode h3{font-size:.9rem;margin:0 0 .3rem}
.episode ol{margin:0;padding-left:1.2rem;font-size:.86rem}
.role{display:inline-block;min-width:4.5rem;font-weight:bold;color:#1f5fa8}
svg.timeline{max-width:100%;height:auto;background:#fff;border:1px solid #ddd}
svg.timeline a:hover rect,svg.timeline a:hover path,svg.timeline a:hover circle{stroke:#000;stroke-width:1.5}
svg.timeline .brush{fill:#1f5fa8;fill-opacity:.15}
.timeline-box{overflow-x:auto}
.zoom{font-size:.85rem;margin:.3rem 0}
.zoom a{margin-right:.8rem}
.incidents li{margin:.2rem 0}
table.records td{font-size:.82rem}
table.records tr:target{background:#fff3c4;outline:2px solid #d62728}
table.records pre{white-space:pre-wrap;max-width:60rem;font-size:.75rem}
section.zoomed{margin:1rem 0}
`;

const sha256 = (s: string): string => createHash('sha256').update(s).digest('base64');

export const SCRIPT_HASH = `sha256-${sha256(CLIENT_SCRIPT)}`;

/** Live pages: this script only, same-origin fetch and EventSource; nothing from elsewhere. */
export const LIVE_CSP = `default-src 'none'; script-src '${SCRIPT_HASH}'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`;

/** The export runs no script at all. */
export const REPORT_CSP = `default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'`;
