/**
 * The dashboard's only stylesheet and script, served as files so the pages need no inline code (and the
 * Content-Security-Policy can forbid it). The script polls the fragments marked `data-live` and swaps them
 * in, and submits the filter form when a filter changes: the page stays usable without it.
 */

export const APP_CSS = `
:root { color-scheme: light dark; --fg: #1d2330; --muted: #667085; --line: #e4e7ec; --bg: #fff; --head: #f6f7f9;
  --ok: #12805c; --bad: #c4320a; --run: #1561c5; --wait: #9a6700; --off: #667085; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8ec; --muted: #98a2b3; --line: #2f3542; --bg: #14171f; --head: #1b1f29; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 1rem; align-items: center; padding: .7rem 1.2rem; border-bottom: 1px solid var(--line); background: var(--head); }
header .brand { font-weight: 700; color: inherit; text-decoration: none; }
header .title { color: var(--muted); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
header .who { margin-left: auto; color: var(--muted); display: flex; gap: .5rem; align-items: center; }
main { padding: 1rem 1.2rem; }
a { color: var(--run); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: middle; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); font-weight: 600; }
td.num { font-variant-numeric: tabular-nums; }
td.input { max-width: 18rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-family: ui-monospace, monospace; font-size: 12px; }
tr.empty td { color: var(--muted); text-align: center; padding: 2rem; }
.filters { display: flex; gap: 1rem; margin-bottom: 1rem; flex-wrap: wrap; }
select, input, button { font: inherit; padding: .25rem .5rem; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: inherit; }
button { cursor: pointer; }
form.cancel button, form.retry button { color: var(--bad); border-color: currentColor; padding: .1rem .5rem; font-size: 12px; }
form.retry button { color: var(--run); }
.status { display: inline-block; padding: .05rem .5rem; border-radius: 999px; font-size: 12px; font-weight: 600; border: 1px solid currentColor; }
.status.completed, .status.succeeded { color: var(--ok); }
.status.failed { color: var(--bad); }
.status.working, .status.running { color: var(--run); }
.status.queued { color: var(--wait); }
.status.cancelled, .status.expired, .status.interrupted, .status.not_found { color: var(--off); }
.hint { color: var(--muted); font-size: 12px; }
.bar { display: inline-block; width: 7rem; height: .55rem; border-radius: 999px; background: var(--line); overflow: hidden; vertical-align: middle; }
.bar > div { height: 100%; background: var(--run); transition: width .4s; }
.pct { margin-left: .4rem; font-size: 12px; color: var(--muted); font-variant-numeric: tabular-nums; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1.2rem; }
dt { color: var(--muted); }
dd { margin: 0; }
time { color: var(--muted); font-size: 12px; margin-left: .4rem; }
pre { background: var(--head); border: 1px solid var(--line); border-radius: 6px; padding: .7rem; overflow: auto; max-height: 24rem; }
pre.error, span.error, p.error { color: var(--bad); }
h2 { font-size: 15px; margin: 1.4rem 0 .5rem; }
.actions { margin: 1rem 0; }
form.signin { display: grid; gap: .8rem; max-width: 22rem; margin: 3rem auto; }
`;

export const APP_JS = `
"use strict";
(() => {
  const every = Number(document.documentElement.dataset.poll || 1000);
  for (const form of document.querySelectorAll("form[data-autosubmit]")) {
    form.addEventListener("change", () => form.submit());
  }
  for (const live of document.querySelectorAll("[data-live]")) {
    let last = live.innerHTML;
    const tick = async () => {
      try {
        const res = await fetch(live.dataset.live, { headers: { accept: "text/html" }, credentials: "same-origin" });
        if (res.status === 401) { location.reload(); return; }
        if (res.ok) {
          const html = await res.text();
          if (html !== last) { live.innerHTML = html; last = html; }
          if (res.headers.get("x-job-finished") === "1") return;
        }
      } catch {}
      setTimeout(tick, every);
    };
    setTimeout(tick, every);
  }
})();
`;
