// The build report as one self-contained HTML page (inline CSS and SVG, no script, no network): a summary, the
// stage graph, a gantt timeline of every step, and a table of the steps. The report's JSON rides along in a
// <script type="application/json"> block for tools.
import { formatBytes, formatDuration as formatSeconds, shortDigest } from '../progress/format.js';

/** Milliseconds below a second (a report is read closely: `28ms` says more than `0.0s`), seconds above. */
function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : formatSeconds(ms);
}
import type { BuildReport, ReportStage, ReportStep } from './model.js';

export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const CSS = `
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d2330;background:#fafbfc}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
.summary{display:flex;gap:24px;flex-wrap:wrap;margin:8px 0}.summary div{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:8px 12px}
.summary b{display:block;font-size:18px}.ok{color:#1a7f37}.failed{color:#cf222e}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
svg{background:#fff;border:1px solid #dde1e6;border-radius:6px}
.stage rect{fill:#eef4ff;stroke:#4a78c2}.stage text{font-size:12px}.edge{stroke:#7a8599;fill:none;marker-end:url(#arrow)}
.bar-run{fill:#4a78c2}.bar-cached{fill:#b8c0cc}.bar-error{fill:#cf222e}.bar-transfer{fill:#8a63d2}
.lbl{font:11px ui-monospace,Menlo,monospace;fill:#1d2330}.axis{stroke:#e4e7eb}.tick{font-size:10px;fill:#6a7382}
table{border-collapse:collapse;background:#fff;width:100%}th,td{border:1px solid #dde1e6;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f2f5}#build-info{width:auto;margin:8px 0}pre{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:8px 12px;overflow-x:auto;white-space:pre-wrap}td:first-child{white-space:nowrap}td.num{text-align:right;white-space:nowrap}tr.cached td{color:#6a7382}tr.error td{background:#fff0f0}
`;

function stageDepths(stages: ReportStage[]): Map<string, number> {
  const byName = new Map(stages.map((s) => [s.name, s]));
  const depth = new Map<string, number>();
  const visit = (name: string, seen: Set<string>): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    if (seen.has(name)) return 0;
    seen.add(name);
    const deps = (byName.get(name)?.dependsOn ?? []).filter((d) => byName.has(d));
    const d = deps.length === 0 ? 0 : 1 + Math.max(...deps.map((x) => visit(x, seen)));
    depth.set(name, d);
    return d;
  };
  for (const s of stages) visit(s.name, new Set());
  return depth;
}

export function stageGraphSvg(stages: ReportStage[]): string {
  const W = 170;
  const H = 46;
  const GX = 60;
  const GY = 18;
  const depth = stageDepths(stages);
  const columns = new Map<number, ReportStage[]>();
  for (const s of stages) {
    const d = depth.get(s.name) ?? 0;
    columns.set(d, [...(columns.get(d) ?? []), s]);
  }
  const pos = new Map<string, { x: number; y: number }>();
  for (const [d, list] of columns)
    list.forEach((s, i) => pos.set(s.name, { x: 16 + d * (W + GX), y: 16 + i * (H + GY) }));
  const width = 32 + Math.max(1, columns.size) * (W + GX) - GX;
  const height = 32 + Math.max(1, ...[...columns.values()].map((l) => l.length)) * (H + GY) - GY;
  const edges = stages.flatMap((s) =>
    s.dependsOn
      .filter((d) => pos.has(d))
      .map((d) => {
        const a = pos.get(d)!;
        const b = pos.get(s.name)!;
        const x1 = a.x + W;
        const y1 = a.y + H / 2;
        const x2 = b.x - 4;
        const y2 = b.y + H / 2;
        return `<path class="edge" d="M${x1},${y1} C${x1 + GX / 2},${y1} ${x2 - GX / 2},${y2} ${x2},${y2}"/>`;
      }),
  );
  const boxes = stages.map((s) => {
    const p = pos.get(s.name)!;
    const span = s.startMs !== undefined && s.endMs !== undefined ? formatDuration(s.endMs - s.startMs) : 'not run';
    return (
      `<g class="stage" data-stage="${escapeHtml(s.name)}"><title>stage ${escapeHtml(s.name)}${s.dependsOn.length ? ' (from ' + escapeHtml(s.dependsOn.join(', ')) + ')' : ''}</title>` +
      `<rect x="${p.x}" y="${p.y}" width="${W}" height="${H}" rx="6"/>` +
      `<text x="${p.x + 10}" y="${p.y + 19}" font-weight="600">${escapeHtml(truncate(s.name, 22))}</text>` +
      `<text x="${p.x + 10}" y="${p.y + 36}">${s.steps} step${s.steps === 1 ? '' : 's'} · ${span}</text></g>`
    );
  });
  return (
    `<svg id="stage-graph" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg">` +
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="#7a8599"/></marker></defs>` +
    edges.join('') +
    boxes.join('') +
    '</svg>'
  );
}

function truncate(s: string, n: number): string {
  const one = s.split('\n')[0] ?? '';
  return one.length > n ? one.slice(0, n - 1) + '…' : one;
}

function stepLabel(s: ReportStep): string {
  return `[${s.stage} ${s.index}/${s.total}] ${s.instruction}`;
}

export function timelineSvg(report: BuildReport): string {
  const LABEL = 380;
  const PLOT = 820;
  const ROW = 20;
  const total = Math.max(1, report.durationMs);
  const rows: string[] = [];
  const x = (ms: number) => LABEL + (Math.max(0, ms) / total) * PLOT;
  let y = 24;
  const item = (label: string, startMs: number, durMs: number, cls: string, title: string, attr: string) => {
    const w = Math.max(2, (durMs / total) * PLOT);
    rows.push(
      `<g ${attr}><title>${escapeHtml(title)}</title><text class="lbl" x="6" y="${y + 14}">${escapeHtml(truncate(label, 56))}</text>` +
        `<rect class="${cls}" x="${x(startMs).toFixed(1)}" y="${y + 3}" width="${w.toFixed(1)}" height="${ROW - 6}" rx="2"/></g>`,
    );
    y += ROW;
  };
  for (const t of report.transfers) {
    item(
      `${t.kind} ${t.ref}`,
      t.startMs,
      t.durationMs,
      'bar-transfer',
      `${t.kind} ${t.ref}: ${t.blobs} blobs, ${formatBytes(t.bytes)} in ${formatDuration(t.durationMs)}`,
      'data-transfer',
    );
  }
  for (const s of report.steps) {
    const cls = s.error !== undefined ? 'bar-error' : s.cached ? 'bar-cached' : 'bar-run';
    const what = s.cached
      ? 'cached'
      : s.error !== undefined
        ? `failed: ${s.error}`
        : `ran ${formatDuration(s.durationMs)}`;
    item(
      stepLabel(s),
      s.startMs,
      s.durationMs,
      cls,
      `${stepLabel(s)} — starts at ${formatDuration(s.startMs)}, ${what}${s.layer ? ', layer ' + formatBytes(s.layer.size) : ''}`,
      `data-step="${escapeHtml(s.stage)} ${s.index}"`,
    );
  }
  const height = y + 8;
  const ticks: string[] = [];
  for (let i = 0; i <= 5; i++) {
    const tx = LABEL + (i / 5) * PLOT;
    ticks.push(
      `<line class="axis" x1="${tx}" y1="18" x2="${tx}" y2="${height - 4}"/><text class="tick" x="${i === 5 ? tx - 2 : tx + 2}" y="12"${i === 5 ? ' text-anchor="end"' : ''}>${formatDuration((i / 5) * total)}</text>`,
    );
  }
  const width = LABEL + PLOT + 20;
  return `<svg id="timeline" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg">${ticks.join('')}${rows.join('')}</svg>`;
}

function stepTable(report: BuildReport): string {
  const rows = report.steps.map((s) => {
    const cls = s.error !== undefined ? 'error' : s.cached ? 'cached' : '';
    const status = s.error !== undefined ? 'FAILED' : s.unfinished ? 'unfinished' : s.cached ? 'CACHED' : 'ran';
    return (
      `<tr class="${cls}" data-step="${escapeHtml(s.stage)} ${s.index}"><td>${escapeHtml(s.stage)}</td><td class="num">${s.index}/${s.total}</td>` +
      `<td><code>${escapeHtml(s.instruction)}</code></td><td class="num">${s.line}</td><td class="num">${formatDuration(s.startMs)}</td>` +
      `<td class="num">${formatDuration(s.durationMs)}</td><td>${status}</td>` +
      `<td class="num">${s.layer ? formatBytes(s.layer.size) : ''}</td><td class="mono">${s.layer ? escapeHtml(shortDigest(s.layer.digest)) : ''}</td>` +
      `<td>${escapeHtml(s.error ?? s.rebuiltBecause ?? s.cacheMiss ?? '')}</td></tr>`
    );
  });
  return `<table id="steps"><thead><tr><th>stage</th><th>step</th><th>instruction</th><th>line</th><th>start</th><th>duration</th><th>status</th><th>layer size</th><th>layer</th><th>why it ran / error</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** Version, platform, tags, build args and pushed digests: what this build was, for whoever reads the report later. */
function buildInfo(report: BuildReport): string {
  const rows: [string, string][] = [];
  const b = report.build;
  if (b) {
    rows.push(['tsbuild', `<code>${escapeHtml(b.version)}</code>`]);
    rows.push(['platform', `<code>${escapeHtml(b.platform)}</code>`]);
    rows.push(['tags', b.tags.length ? b.tags.map((t) => `<code>${escapeHtml(t)}</code>`).join('<br>') : 'none']);
    const args = Object.entries(b.buildArgs);
    rows.push([
      'build args',
      args.length ? args.map(([k, v]) => `<code>${escapeHtml(k)}=${escapeHtml(v)}</code>`).join('<br>') : 'none',
    ]);
  }
  if (report.pushed.length)
    rows.push(['pushed', report.pushed.map((p) => `<code>${escapeHtml(`${p.ref}@${p.digest}`)}</code>`).join('<br>')]);
  if (!rows.length) return '';
  return `<table id="build-info">${rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('')}</table>`;
}

/** Each failed step with the last lines it printed, so the report alone says why it failed. */
function failures(report: BuildReport): string {
  return report.steps
    .filter((s) => s.error !== undefined)
    .map(
      (s) =>
        `<div class="failure" data-step="${escapeHtml(s.stage)} ${s.index}"><p class="failed"><code>${escapeHtml(stepLabel(s))}</code>: ${escapeHtml(s.error ?? '')}</p>` +
        (s.lastOutput?.length
          ? `<p>last ${s.lastOutput.length} line${s.lastOutput.length === 1 ? '' : 's'} of output:</p><pre class="mono">${s.lastOutput.map(escapeHtml).join('\n')}</pre>`
          : '') +
        '</div>',
    )
    .join('');
}

export function renderReportHtml(report: BuildReport): string {
  const ran = report.steps.filter((s) => !s.cached).length;
  const cached = report.steps.length - ran;
  const layerBytes = report.steps.reduce((n, s) => n + (s.layer?.size ?? 0), 0);
  const status =
    report.ok === null
      ? '<b>unfinished</b>'
      : report.ok
        ? '<b class="ok">succeeded</b>'
        : '<b class="failed">failed</b>';
  const json = JSON.stringify(report).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>tsbuild report${report.imageId ? ' ' + escapeHtml(shortDigest(report.imageId)) : ''}</title><style>${CSS}</style></head>
<body>
<h1>tsbuild build report</h1>
<div class="mono">started ${escapeHtml(new Date(report.startedAt).toISOString())}${report.imageId ? ' · image ' + escapeHtml(report.imageId) : ''}</div>
<div class="summary">
<div>status ${status}</div><div>total time <b>${formatDuration(report.durationMs)}</b></div>
<div>steps <b>${report.steps.length}</b></div><div>ran <b>${ran}</b></div><div>cached <b>${cached}</b></div><div>layers written <b>${formatBytes(layerBytes)}</b></div>
</div>
${buildInfo(report)}
${report.error ? `<p class="failed">error: ${escapeHtml(report.error)}</p>` : ''}
${failures(report)}
<h2>Stages</h2>
${stageGraphSvg(report.stages)}
<h2>Timeline</h2>
${timelineSvg(report)}
<h2>Steps</h2>
${stepTable(report)}
${report.warnings.length ? `<h2>Warnings</h2><ul>${report.warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul>` : ''}
<script type="application/json" id="tsbuild-report-data">${json}</script>
</body></html>
`;
}
