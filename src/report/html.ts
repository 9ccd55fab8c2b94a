/**
 * The HTML report: one self-contained file (inline CSS and SVG, no scripts or fonts from anywhere)
 * that opens offline in any browser. Charts are drawn here as SVG, so the file shows them even with
 * scripts off; the one inline script only marks the page as rendered, for the headless-browser test.
 */
import { formatUsd } from '../cost/compute.js';
import { bucketRange, knownGroupCost, knownGroupSaved, NONE, savedShare, type GroupStats, type ReportAggregator } from './aggregate.js';
import { reportTables, reportWarnings, savingText, type ReportContext } from './formats.js';

interface Bar {
  label: string;
  value: number;
  text: string;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function shorten(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

const W = 560;

/** Bar lengths are drawn from finite, non-negative values only: an SVG never gets NaN or Infinity. */
function drawable(bars: Bar[]): Bar[] {
  return bars.map((b) => (Number.isFinite(b.value) && b.value > 0 ? b : { ...b, value: 0 }));
}

/** Vertical bars, for series over time or buckets. */
function columnChart(id: string, title: string, given: Bar[], color: string): string {
  const bars = drawable(given);
  const H = 260;
  const left = 56;
  const bottom = 48;
  const top = 26;
  const plotW = W - left - 12;
  const plotH = H - top - bottom;
  const max = Math.max(...bars.map((b) => b.value), 0);
  if (bars.length === 0 || max <= 0) return emptyChart(id, title);
  const slot = plotW / bars.length;
  const barW = Math.max(2, Math.min(48, slot * 0.7));
  const everyLabel = Math.ceil(bars.length / 12);
  const parts = [`<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" class="axis"/>`];
  for (let i = 0; i <= 4; i++) {
    const y = top + plotH - (plotH * i) / 4;
    parts.push(`<line x1="${left}" y1="${y}" x2="${left + plotW}" y2="${y}" class="grid"/>`);
  }
  // The top gridline is the largest bar: its value is written above the plot, where it has room.
  parts.push(`<text x="${left}" y="${top - 10}" class="tick">max ${esc(bars.reduce((a, b) => (b.value > a.value ? b : a)).text)}</text>`);
  bars.forEach((b, i) => {
    const h = (b.value / max) * plotH;
    const x = left + i * slot + (slot - barW) / 2;
    parts.push(`<rect x="${x.toFixed(1)}" y="${(top + plotH - h).toFixed(1)}" width="${barW.toFixed(1)}" height="${Math.max(h, b.value > 0 ? 1 : 0).toFixed(1)}" fill="${color}"><title>${esc(`${b.label}: ${b.text}`)}</title></rect>`);
    if (i % everyLabel === 0) {
      parts.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${top + plotH + 16}" class="tick" text-anchor="middle">${esc(shorten(b.label, 12))}</text>`);
    }
  });
  return chartBox(id, title, H, parts.join(''));
}

/** Horizontal bars, for categories (models, error types). */
function barChart(id: string, title: string, given: Bar[], color: string): string {
  const bars = drawable(given);
  if (bars.length === 0 || bars.every((b) => b.value <= 0)) return emptyChart(id, title);
  const rowH = 26;
  const left = 170;
  const right = 110;
  const H = bars.length * rowH + 16;
  const max = Math.max(...bars.map((b) => b.value));
  const parts: string[] = [];
  bars.forEach((b, i) => {
    const y = 8 + i * rowH;
    const w = ((W - left - right) * b.value) / max;
    parts.push(`<text x="${left - 8}" y="${y + 16}" class="label" text-anchor="end">${esc(shorten(b.label, 24))}</text>`);
    parts.push(`<rect x="${left}" y="${y + 3}" width="${Math.max(w, 1).toFixed(1)}" height="${rowH - 8}" fill="${color}" rx="2"><title>${esc(`${b.label}: ${b.text}`)}</title></rect>`);
    parts.push(`<text x="${(left + w + 6).toFixed(1)}" y="${y + 16}" class="value">${esc(b.text)}</text>`);
  });
  return chartBox(id, title, H, parts.join(''));
}

/**
 * Two horizontal bars per category: what was paid, and what the same usage costs at the standard
 * price, so that a tier's saving (or priority's surcharge) shows as the gap between them.
 */
function pairedBarChart(id: string, title: string, rows: Array<{ label: string; paid: number; standard: number; note: string }>, colors: { paid: string; standard: string }): string {
  const finite = (v: number) => (Number.isFinite(v) && v > 0 ? v : 0);
  const max = Math.max(0, ...rows.flatMap((r) => [finite(r.paid), finite(r.standard)]));
  if (rows.length === 0 || max <= 0) return emptyChart(id, title);
  const rowH = 44;
  const left = 110;
  const right = 170;
  const legendH = 22;
  const H = legendH + rows.length * rowH + 8;
  const width = (v: number) => ((W - left - right) * finite(v)) / max;
  const parts = [
    `<rect x="${left}" y="4" width="10" height="10" fill="${colors.paid}"/><text x="${left + 14}" y="13" class="tick">paid</text>`,
    `<rect x="${left + 60}" y="4" width="10" height="10" fill="${colors.standard}"/><text x="${left + 74}" y="13" class="tick">at the standard price</text>`,
  ];
  rows.forEach((r, i) => {
    const y = legendH + i * rowH;
    parts.push(`<text x="${left - 8}" y="${y + 22}" class="label" text-anchor="end">${esc(shorten(r.label, 14))}</text>`);
    for (const [k, [value, color, text]] of ([[r.paid, colors.paid, formatUsd(r.paid)], [r.standard, colors.standard, `${formatUsd(r.standard)} ${r.note}`]] as const).entries()) {
      const w = width(value);
      const by = y + 4 + k * 17;
      parts.push(`<rect x="${left}" y="${by}" width="${Math.max(w, 1).toFixed(1)}" height="14" fill="${color}" rx="2"><title>${esc(`${r.label}: ${k === 0 ? 'paid' : 'at the standard price'} ${formatUsd(value)}`)}</title></rect>`);
      parts.push(`<text x="${(left + w + 6).toFixed(1)}" y="${by + 11}" class="value">${esc(text.trim())}</text>`);
    }
  });
  return chartBox(id, title, H, parts.join(''));
}

/** `-50%` saved, `+75%` for a tier that costs more than standard; empty when there is nothing to compare. */
function savedNote(g: GroupStats): string {
  const share = savedShare(g);
  if (share === null || Math.round(share * 100) === 0) return '';
  return `(${share > 0 ? '−' : '+'}${Math.abs(Math.round(share * 100))}% paid)`;
}

function emptyChart(id: string, title: string): string {
  return chartBox(id, title, 60, `<text x="${W / 2}" y="34" class="label" text-anchor="middle">nothing to show</text>`);
}

function chartBox(id: string, title: string, height: number, body: string): string {
  return `<figure class="chart" id="${id}"><figcaption>${esc(title)}</figcaption><svg viewBox="0 0 ${W} ${height}" width="${W}" height="${height}" role="img" aria-label="${esc(title)}">${body}</svg></figure>`;
}

function compact(n: number): string {
  return n.toLocaleString('en-US', { notation: 'compact', maximumFractionDigits: 1 });
}

/** `$1.20 (50%)`: the card's saving, always positive (its title says which way). */
function savedCard(g: GroupStats): string {
  const saved = knownGroupSaved(g);
  if (saved === null) return formatUsd(null);
  const share = savedShare(g);
  return `${formatUsd(Math.abs(saved))}${share === null ? '' : ` (${Math.abs(Math.round(share * 100))}%)`}`;
}

export function formatHtml(agg: ReportAggregator, ctx: ReportContext, generatedAt = new Date()): string {
  const t = agg.total;
  const days = [...agg.byDay.entries()].filter(([d]) => d !== NONE).sort(([a], [b]) => a.localeCompare(b));
  const models = [...agg.byModel.entries()].sort(([, a], [, b]) => b.costNanos - a.costNanos || b.lines - a.lines).slice(0, 12);
  const tiers = [...agg.byTier.entries()].filter(([tier]) => tier !== NONE).sort(([, a], [, b]) => b.standardNanos - a.standardNanos);
  const failed = Object.entries(t.byStatus).filter(([s]) => s !== 'completed').reduce((n, [, c]) => n + c, 0);
  const charts = [
    columnChart('cost-per-day', 'Cost per day (USD)', days.map(([d, g]) => ({ label: d, value: g.costNanos, text: formatUsd(knownGroupCost(g)) })), '#2563eb'),
    barChart('cost-per-model', 'Cost per model (USD)', models.map(([m, g]) => ({ label: m, value: g.costNanos, text: formatUsd(knownGroupCost(g)) })), '#7c3aed'),
    columnChart(
      'tokens-per-item',
      'Lines by tokens per item (input + output, from)',
      agg.tokenHistogram.map((lines, b) => {
        const r = bucketRange(b);
        return { label: compact(r.from), value: lines, text: `${lines.toLocaleString('en-US')} lines of ${compact(r.from)}–${compact(r.to)} tokens` };
      }).filter((_, b, all) => b >= all.findIndex((x) => x.value > 0)),
      '#0d9488',
    ),
    pairedBarChart(
      'cost-per-tier',
      'Cost per tier: paid, and at the standard price (USD)',
      tiers.map(([tier, g]) => ({ label: tier, paid: g.costNanos, standard: g.standardNanos, note: savedNote(g) })),
      { paid: '#16a34a', standard: '#cbd5e1' },
    ),
    barChart('failures', 'Lines that did not complete, by error type', [...agg.byError.entries()].sort(([, a], [, b]) => b - a).map(([e, n]) => ({ label: e, value: n, text: n.toLocaleString('en-US') })), '#dc2626'),
  ];
  const cards = [
    ['Cost', formatUsd(knownGroupCost(t))],
    ['At the standard price', formatUsd(knownGroupCost(t) === null ? null : t.standardNanos)],
    [(knownGroupSaved(t) ?? 0) < 0 ? 'Paid above standard' : 'Saved vs standard', savedCard(t)],
    ['Lines', t.lines.toLocaleString('en-US')],
    ['Input tokens', `${compact(t.tokens.input)} (${compact(t.tokens.cached)} cached)`],
    ['Output tokens', `${compact(t.tokens.output)} (${compact(t.tokens.reasoning)} reasoning)`],
    ['Not completed', failed.toLocaleString('en-US')],
  ];
  const tableHtml = reportTables(agg, formatUsd)
    .map(
      (tb) =>
        `<h2>${esc(tb.title === 'total' ? 'Total' : `By ${tb.title.slice(3)}`)}</h2><div class="scroll"><table><thead><tr>${tb.head.map((h, i) => `<th class="${tb.numeric[i] ? 'n' : ''}">${esc(h)}</th>`).join('')}</tr></thead><tbody>${tb.rows
          .map((r) => `<tr>${r.map((c, i) => `<td class="${tb.numeric[i] ? 'n' : ''}">${esc(c)}</td>`).join('')}</tr>`)
          .join('')}</tbody></table></div>`,
    )
    .join('\n');
  const notes = reportWarnings(agg).map((w) => `<p class="note">${esc(w)}</p>`).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>respool cost report</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827;background:#f8fafc;margin:0;padding:24px}
main{max-width:1180px;margin:0 auto}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.sub{color:#6b7280;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:16px}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:10px 16px;min-width:150px}
.card b{display:block;font-size:20px}.card span{color:#6b7280;font-size:12px}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(580px,1fr));gap:12px}
.chart{background:#fff;border:1px solid #e5e7eb;border-radius:8px;margin:0;padding:10px}
.chart figcaption{font-weight:600;margin-bottom:4px}
.chart svg{max-width:100%;height:auto}
.axis{stroke:#9ca3af}.grid{stroke:#f1f5f9}
.tick{font-size:10px;fill:#6b7280}.label{font-size:12px;fill:#374151}.value{font-size:11px;fill:#111827}
.scroll{overflow-x:auto}
table{border-collapse:collapse;background:#fff;border:1px solid #e5e7eb;font-size:13px}
th,td{padding:4px 10px;border-bottom:1px solid #f1f5f9;text-align:left;white-space:nowrap}
th{background:#f9fafb}.n{text-align:right;font-variant-numeric:tabular-nums}
.note{background:#fffbeb;border:1px solid #fde68a;padding:6px 10px;border-radius:6px}
</style>
</head>
<body>
<main>
<h1>Cost report</h1>
<p class="sub">${esc(`${ctx.files.length} file${ctx.files.length === 1 ? '' : 's'}: ${ctx.files.map((f) => shorten(f, 80)).join(', ')}`)} · generated ${esc(generatedAt.toISOString().slice(0, 19).replace('T', ' '))} UTC</p>
<p class="sub">${esc(savingText(t))}</p>
<div class="cards">${cards.map(([k, v]) => `<div class="card"><span>${esc(k!)}</span><b>${esc(v!)}</b></div>`).join('')}</div>
${notes}
<div class="charts">
${charts.join('\n')}
</div>
${tableHtml}
</main>
<script>
// Marks the page once every chart has been laid out with a size (read by the headless-browser test).
document.documentElement.dataset.chartsRendered = String([...document.querySelectorAll('.chart svg')].filter(function (s) { var r = s.getBoundingClientRect(); return r.width > 0 && r.height > 0; }).length);
</script>
</body>
</html>
`;
}
