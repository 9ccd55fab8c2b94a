/** `respool report` output formats over one aggregation. Pure: strings in, strings out. */
import { formatUsd, NANOS_PER_USD, usdString } from '../cost/compute.js';
import { csvTextCell } from '../sinks/export/csv-cell.js';
import { csvField } from '../sinks/export/flatten.js';
import { bucketRange, knownGroupCost, knownGroupSaved, MAX_LINE_COST_USD, MAX_LINE_TOKENS, savedShare, sortedGroups, type GroupStats, type ReportAggregator } from './aggregate.js';

export const REPORT_FORMATS = ['table', 'csv', 'json', 'markdown', 'html'] as const;
/** A format of `respool report`: table, csv, json, markdown or html. */
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface ReportContext {
  files: string[];
}

interface Column {
  name: string;
  value(g: GroupStats): string;
  numeric: boolean;
}

function columns(agg: ReportAggregator, money: (nanos: number | null) => string): Column[] {
  const cols: Column[] = [{ name: 'lines', value: (g) => String(g.lines), numeric: true }];
  for (const s of agg.statuses()) cols.push({ name: s, value: (g) => String(g.byStatus[s] ?? 0), numeric: true });
  cols.push(
    { name: 'input_tokens', value: (g) => String(g.tokens.input), numeric: true },
    { name: 'cached_tokens', value: (g) => String(g.tokens.cached), numeric: true },
    { name: 'output_tokens', value: (g) => String(g.tokens.output), numeric: true },
    { name: 'reasoning_tokens', value: (g) => String(g.tokens.reasoning), numeric: true },
    { name: 'cost_usd', value: (g) => money(knownGroupCost(g)), numeric: true },
  );
  // Lines served at flex, batch or priority: what the same usage costs at the standard price, and the difference.
  if (agg.hasOtherTiers()) {
    cols.push(
      { name: 'standard_cost_usd', value: (g) => money(knownGroupCost(g) === null ? null : g.standardNanos), numeric: true },
      { name: 'saved_usd', value: (g) => money(knownGroupSaved(g)), numeric: true },
    );
  }
  if (agg.total.noTierPrice > 0) cols.push({ name: 'no_tier_price_lines', value: (g) => String(g.noTierPrice), numeric: true });
  if (agg.total.unpriced > 0) cols.push({ name: 'unpriced_lines', value: (g) => String(g.unpriced), numeric: true });
  if (agg.total.absurd > 0) cols.push({ name: 'absurd_lines', value: (g) => String(g.absurd), numeric: true });
  return cols;
}

interface Table {
  title: string;
  head: string[];
  rows: string[][];
  numeric: boolean[];
}

function tables(agg: ReportAggregator, money: (nanos: number | null) => string): Table[] {
  const cols = columns(agg, money);
  const total: Table = { title: 'total', head: ['', ...cols.map((c) => c.name)], rows: [['total', ...cols.map((c) => c.value(agg.total))]], numeric: [false, ...cols.map((c) => c.numeric)] };
  const out = [total];
  for (const b of agg.breakdowns) {
    out.push({
      title: `by ${b.by.join(' + ')}`,
      head: [...b.by, ...cols.map((c) => c.name)],
      rows: sortedGroups(b).map((g) => [...g.key, ...cols.map((c) => c.value(g.stats))]),
      numeric: [...b.by.map(() => false), ...cols.map((c) => c.numeric)],
    });
  }
  return out;
}

/** `acme-7b (10 lines), gpt-4o (2 lines)`: the models of some left-out lines, most first. */
function namedModels(entries: Array<{ model: string; lines: number }>): string {
  const shown = entries.slice(0, 10).map((e) => `${e.model} (${e.lines} line${e.lines === 1 ? '' : 's'})`);
  return entries.length > shown.length ? `${shown.join(', ')} and ${entries.length - shown.length} more models` : shown.join(', ');
}

const LEFT_OUT_WHY = {
  'no price': 'usage but no price for their model',
  'no usage': 'an answer but no usage',
} as const;

/** `saved $1.20 (50%) against the standard price of $2.40`: the headline's saving, for people. */
export function savingText(g: GroupStats): string {
  const saved = knownGroupSaved(g);
  if (saved === null) return 'saving unknown';
  const share = savedShare(g);
  const pct = share === null ? '' : ` (${Math.abs(Math.round(share * 100))}%)`;
  // Priority costs more than standard: the difference is then what was paid on top.
  return saved < 0 ? `paid ${formatUsd(-saved)}${pct} more than the standard price of ${formatUsd(g.standardNanos)}` : `saved ${formatUsd(saved)}${pct} against the standard price of ${formatUsd(g.standardNanos)}`;
}

function warnings(agg: ReportAggregator): string[] {
  const w: string[] = [];
  const noTier = agg.noTierPriceList();
  if (noTier.length > 0) {
    const n = noTier.reduce((a, e) => a + e.lines, 0);
    const named = namedModels(noTier.map((e) => ({ model: `${e.model} at ${e.tier}`, lines: e.lines })));
    w.push(`${n} line${n === 1 ? ' was' : 's were'} served at a tier the price table has no price for (no tier price) and priced at the standard price, so their cost and saving are not the tier's: ${named}`);
  }
  const left = agg.leftOutList();
  for (const reason of ['no price', 'no usage'] as const) {
    const entries = left.filter((e) => e.reason === reason);
    const n = entries.reduce((a, e) => a + e.lines, 0);
    if (n > 0) w.push(`${n} line${n === 1 ? '' : 's'} with ${LEFT_OUT_WHY[reason]} could not be priced; the cost shown leaves them out: ${namedModels(entries)}`);
  }
  if (agg.total.absurd > 0) {
    const entries = left.filter((e) => e.reason === 'absurd numbers');
    w.push(
      `${agg.total.absurd} line${agg.total.absurd === 1 ? '' : 's'} with absurd numbers (a token count over ${MAX_LINE_TOKENS.toLocaleString('en-US')}, or a cost that is negative, over ${formatUsd(MAX_LINE_COST_USD * NANOS_PER_USD)} or not a finite number) left out of tokens and cost: ${namedModels(entries)}` +
        (agg.absurdAt.length > 0 ? ` (${agg.absurdAt.join(', ')}${agg.total.absurd > agg.absurdAt.length ? ', ...' : ''})` : ''),
    );
  }
  if (agg.unreadable > 0) w.push(`${agg.unreadable} lines are not JSON objects and were skipped (${agg.unreadableAt.join(', ')}${agg.unreadable > agg.unreadableAt.length ? ', ...' : ''})`);
  return w;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Aligned columns for a terminal: numbers right, names left. */
export function formatTable(agg: ReportAggregator, ctx: ReportContext): string {
  const parts: string[] = [`${agg.total.lines} lines in ${ctx.files.length} file${ctx.files.length === 1 ? '' : 's'}, cost ${formatUsd(knownGroupCost(agg.total))}`, capitalize(savingText(agg.total))];
  for (const t of tables(agg, formatUsd)) {
    const widths = t.head.map((h, i) => Math.max(h.length, ...t.rows.map((r) => r[i]!.length)));
    const fmt = (cells: string[]) => cells.map((c, i) => (t.numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
    parts.push('', t.title === 'total' ? 'Total' : `By ${t.title.slice(3)}`, fmt(t.head), widths.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(fmt));
  }
  const w = warnings(agg);
  if (w.length > 0) parts.push('', ...w.map((x) => `note: ${x}`));
  return parts.join('\n') + '\n';
}


/**
 * One table: `breakdown` (`total`, `model`, `model+day` ...), then one column per dimension used by
 * any breakdown (empty where a breakdown does not group by it), then the figures. Costs in plain
 * decimal USD, to the nano-dollar. Names (models, error types, metadata values) come from the
 * results files, so formula-like ones are neutralised unless `csvRaw` (../sinks/export/csv-cell.ts);
 * the figures are numbers respool writes and stay as they are.
 */
export function formatCsv(agg: ReportAggregator, opts: { csvRaw?: boolean } = {}): string {
  const left = agg.leftOutList();
  // Lines left out of the cost are named by model in rows of their own, so the file needs a model column.
  const dims = [...new Set([...agg.breakdowns.flatMap((b) => b.by), ...(left.length > 0 ? (['model'] as const) : [])])];
  // An unknown cost (nothing in the group could be priced) is an empty cell, not 0.
  const cols = columns(agg, (nanos) => (nanos === null ? '' : usdString(nanos)));
  const rows: string[][] = [['breakdown', ...dims, ...cols.map((c) => c.name)]];
  rows.push(['total', ...dims.map(() => ''), ...cols.map((c) => c.value(agg.total))]);
  for (const b of agg.breakdowns) {
    for (const g of sortedGroups(b)) {
      rows.push([b.by.join('+'), ...dims.map((d) => (b.by.includes(d) ? g.key[b.by.indexOf(d)]! : '')), ...cols.map((c) => c.value(g.stats))]);
    }
  }
  // `left_out: no price` rows: the model and how many of its lines add nothing to the cost, and why.
  for (const e of left) rows.push([`left_out: ${e.reason}`, ...dims.map((d) => (d === 'model' ? e.model : '')), ...cols.map((c) => (c.name === 'lines' ? String(e.lines) : ''))]);
  const text = (v: string) => csvTextCell(v, opts.csvRaw);
  // The header and the breakdown and dimension cells are text; the figures after them are numbers.
  const figuresFrom = 1 + dims.length;
  return rows.map((r, i) => r.map((v, col) => (i === 0 || col < figuresFrom ? text(v) : csvField(v))).join(',')).join('\n') + '\n';
}

function groupJson(g: GroupStats) {
  return {
    lines: g.lines,
    status: g.byStatus,
    tokens: g.tokens,
    cost_usd: g.costNanos / NANOS_PER_USD,
    cost_nanos: g.costNanos,
    unpriced_lines: g.unpriced,
    api_priced_lines: g.apiPriced,
    absurd_lines: g.absurd,
    /** The priced lines' usage at the standard price, and what was saved against it (negative: priority cost more). */
    standard_cost_usd: g.standardNanos / NANOS_PER_USD,
    standard_cost_nanos: g.standardNanos,
    saved_usd: (g.standardNanos - g.costNanos) / NANOS_PER_USD,
    saved_nanos: g.standardNanos - g.costNanos,
    no_tier_price_lines: g.noTierPrice,
  };
}

export function reportJson(agg: ReportAggregator, ctx: ReportContext) {
  return {
    files: ctx.files,
    lines: agg.total.lines,
    unreadable_lines: agg.unreadable,
    batch_lines: agg.batchLines,
    currency: 'USD',
    total: groupJson(agg.total),
    breakdowns: agg.breakdowns.map((b) => ({
      by: b.by,
      groups: sortedGroups(b).map((g) => ({ key: Object.fromEntries(b.by.map((d, i) => [d, g.key[i]])), ...groupJson(g.stats) })),
    })),
    tokens_per_item: agg.tokenHistogram.map((lines, b) => ({ ...bucketRange(b), lines })).filter((x) => x.lines > 0),
    errors: Object.fromEntries(agg.byError),
    /** Lines that add nothing to the cost: by reason (`no price`, `no usage`, `absurd numbers`) and model. */
    left_out: agg.leftOutList(),
    /** Lines served at a tier without a price of its own, priced at the standard price: by tier and model. */
    no_tier_price: agg.noTierPriceList(),
    absurd_at: agg.absurdAt,
    warnings: warnings(agg),
  };
}

export function formatJson(agg: ReportAggregator, ctx: ReportContext): string {
  return JSON.stringify(reportJson(agg, ctx), null, 2) + '\n';
}

function mdCell(v: string): string {
  return v.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function formatMarkdown(agg: ReportAggregator, ctx: ReportContext): string {
  const parts = [`# Cost report`, '', `${agg.total.lines} lines in ${ctx.files.length} file${ctx.files.length === 1 ? '' : 's'}, cost **${formatUsd(knownGroupCost(agg.total))}**; ${savingText(agg.total)}.`];
  for (const t of tables(agg, formatUsd)) {
    parts.push('', `## ${t.title === 'total' ? 'Total' : `By ${t.title.slice(3)}`}`, '');
    parts.push(`| ${t.head.map(mdCell).join(' | ')} |`, `|${t.numeric.map((n) => (n ? '---:' : '---')).join('|')}|`);
    for (const r of t.rows) parts.push(`| ${r.map(mdCell).join(' | ')} |`);
  }
  const w = warnings(agg);
  if (w.length > 0) parts.push('', ...w.map((x) => `> Note: ${x}`));
  return parts.join('\n') + '\n';
}

export { warnings as reportWarnings, tables as reportTables };
