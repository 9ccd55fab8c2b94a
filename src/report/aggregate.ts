/**
 * Totals and breakdowns over results lines, for `respool report`. Pure and streaming: lines are
 * added one at a time and only per-group sums are kept, so memory grows with the number of groups,
 * never with the number of lines. Costs are added as integer nano-dollars read back from each line's
 * `cost.total`, so a report's total is exactly the sum of its lines' costs.
 */
import { lineTotalNanos, usageCounts, type LineCost, type UsageCounts } from '../cost/compute.js';
import { isBatchLine, readBatchLine } from '../sinks/export/batch-line.js';

export interface GroupStats {
  lines: number;
  byStatus: Record<string, number>;
  tokens: { input: number; cached: number; output: number; reasoning: number };
  costNanos: number;
  /** Lines with usage but no cost (their model had no price when they were written). */
  unpriced: number;
  /** Lines whose cost the API reported (`cost.source` "api"). */
  apiPriced: number;
  /** Lines whose tokens or cost are absurd (see MAX_LINE_TOKENS): left out of the sums. */
  absurd: number;
  /** Lines that carry a cost (what costNanos adds up). */
  priced: number;
}

/** A group's cost, or null when it is not known: no line had a cost, and some were billed without one. */
export function knownGroupCost(g: GroupStats): number | null {
  return g.priced === 0 && g.unpriced + g.absurd > 0 ? null : g.costNanos;
}

/**
 * Bounds of one line's figures. A line is one item (its samples and re-asks included): more tokens in
 * one count than this, or a cost above this, or a negative or non-finite one, is broken data (a hand
 * edit, a bad router answer), not a bill. Such a line's tokens and cost are left out and it is counted
 * and named, so that one line cannot turn every total into Infinity. docs/cost.md#respool-report.
 */
export const MAX_LINE_TOKENS = 100_000_000;
export const MAX_LINE_COST_USD = 1_000;

/** Why a line adds nothing to the cost although it was (or may have been) billed. */
export type LeftOutReason = 'no price' | 'no usage' | 'absurd numbers';

/** Prices a line that carries no `cost` of its own (a provider batch line): model and usage to cost. */
export type LinePricer = (model: string | null, usage: unknown) => LineCost | null;

/** What the sums take from one line, computed once per line. */
export interface LineFigures {
  tokens: UsageCounts | null;
  costNanos: number | null;
  apiPriced: boolean;
  leftOut: LeftOutReason | null;
}

/** Built-in dimensions; anything else names a key of the line's `metadata`. */
export const BUILTIN_DIMENSIONS = ['model', 'run', 'day', 'status', 'error'] as const;
export type Dimension = (typeof BUILTIN_DIMENSIONS)[number] | `metadata.${string}`;

/** Statuses in the order reports show them; statuses not listed (newer ones) follow in name order. */
export const STATUS_ORDER = ['completed', 'incomplete', 'failed', 'rejected', 'skipped'];

export const NONE = '(none)';

export function emptyGroup(): GroupStats {
  return { lines: 0, byStatus: {}, tokens: { input: 0, cached: 0, output: 0, reasoning: 0 }, costNanos: 0, unpriced: 0, apiPriced: 0, absurd: 0, priced: 0 };
}

/**
 * `--by model,day` is two breakdowns; `--by model+day` one, over both. `dataset` (not a built-in)
 * means `metadata.dataset`. Throws a RangeError on an empty name.
 */
export function parseBy(spec: string): Dimension[][] {
  return spec
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) =>
      part.split('+').map((d) => {
        const name = d.trim();
        if (name.length === 0) throw new RangeError(`--by: empty dimension in "${part}"`);
        if ((BUILTIN_DIMENSIONS as readonly string[]).includes(name)) return name as Dimension;
        const key = name.replace(/^(metadata|meta)\./, '');
        if (key.length === 0) throw new RangeError(`--by: "${name}" names no metadata key`);
        return `metadata.${key}` as Dimension;
      }),
    );
}

type Line = Record<string, unknown>;

function str(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 ? v : null;
}

export function dimensionValue(line: Line, d: Dimension): string {
  switch (d) {
    case 'model':
      return str(line['model']) ?? NONE;
    case 'run':
      return str(line['run']) ?? NONE;
    case 'day': {
      const at = str(line['finished_at']);
      return at && /^\d{4}-\d{2}-\d{2}/.test(at) ? at.slice(0, 10) : NONE;
    }
    case 'status':
      return str(line['status']) ?? NONE;
    case 'error': {
      const e = line['error'];
      return (typeof e === 'object' && e !== null ? str((e as Line)['type']) : null) ?? NONE;
    }
    default: {
      const m = line['metadata'];
      const v = typeof m === 'object' && m !== null ? (m as Line)[d.slice('metadata.'.length)] : undefined;
      return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : NONE;
    }
  }
}

/** Statuses whose line had an answer, so something was billed even when the line has no usage. */
const ANSWERED = new Set(['completed', 'incomplete', 'invalid_output']);

/** A number given for a token count or a cost that no real line has (beyond the bounds above). */
function absurdTokens(v: unknown): boolean {
  return typeof v === 'number' && (!Number.isFinite(v) || v > MAX_LINE_TOKENS);
}

function hasAbsurdTokens(usage: unknown): boolean {
  if (typeof usage !== 'object' || usage === null) return false;
  const u = usage as Line;
  const detail = (v: unknown, key: string) => (typeof v === 'object' && v !== null ? (v as Line)[key] : undefined);
  return [u['input_tokens'], u['output_tokens'], u['total_tokens'], detail(u['input_tokens_details'], 'cached_tokens'), detail(u['output_tokens_details'], 'reasoning_tokens')].some(absurdTokens);
}

function absurdCost(cost: unknown): boolean {
  if (typeof cost !== 'object' || cost === null) return false;
  const t = (cost as Line)['total'];
  return typeof t === 'number' && !(Number.isFinite(t) && t >= 0 && t <= MAX_LINE_COST_USD);
}

/** The tokens and cost a line adds, or why it adds no cost. */
export function lineFigures(line: Line): LineFigures {
  if (hasAbsurdTokens(line['usage']) || absurdCost(line['cost'])) return { tokens: null, costNanos: null, apiPriced: false, leftOut: 'absurd numbers' };
  // A duplicate's tokens were paid for on the line of the item that called (docs/output-line.md#duplicates).
  const tokens = line['duplicate_of'] === undefined ? usageCounts(line['usage']) : null;
  const costNanos = lineTotalNanos(line['cost']);
  if (costNanos !== null) return { tokens, costNanos, apiPriced: (line['cost'] as Line)['source'] === 'api', leftOut: null };
  const leftOut = tokens ? 'no price' : ANSWERED.has(str(line['status']) ?? '') ? 'no usage' : null;
  return { tokens, costNanos: null, apiPriced: false, leftOut };
}

/** Adds one line to a group. */
export function addToGroup(g: GroupStats, line: Line, figures = lineFigures(line)): void {
  g.lines++;
  const status = str(line['status']) ?? NONE;
  g.byStatus[status] = (g.byStatus[status] ?? 0) + 1;
  const u = figures.tokens;
  if (u) {
    g.tokens.input += u.input;
    g.tokens.cached += u.cached;
    g.tokens.output += u.output;
    g.tokens.reasoning += u.reasoning;
  }
  if (figures.costNanos !== null) {
    g.costNanos += figures.costNanos;
    g.priced++;
    if (figures.apiPriced) g.apiPriced++;
  }
  if (figures.leftOut === 'absurd numbers') g.absurd++;
  else if (figures.leftOut !== null) g.unpriced++;
}

/**
 * A provider batch line as the respool line the report reads: status, model, usage and error from
 * its response, the day from the body's time, and a cost priced from its usage (batch lines carry
 * none). Lines already in respool's shape are returned as they are.
 */
export function asReportLine(line: Line, price: LinePricer | undefined): Line {
  if (!isBatchLine(line)) return line;
  const b = readBatchLine(line);
  return {
    custom_id: line['custom_id'],
    status: b.status,
    model: b.model,
    usage: b.usage,
    cost: b.usage && price ? price(b.model, b.usage) : null,
    finished_at: b.finishedAt,
    error: b.errorType === null ? null : { type: b.errorType, message: b.errorMessage },
  };
}

/** Power-of-two buckets of tokens (input + output) per line with usage: [0,1), [1,2), [2,4) ... */
export function tokenBucket(tokens: number): number {
  return tokens < 1 ? 0 : Math.floor(Math.log2(tokens)) + 1;
}

export function bucketRange(bucket: number): { from: number; to: number } {
  return bucket === 0 ? { from: 0, to: 1 } : { from: 2 ** (bucket - 1), to: 2 ** bucket };
}

export interface Breakdown {
  by: Dimension[];
  groups: Map<string, { key: string[]; stats: GroupStats }>;
}

export class ReportAggregator {
  readonly total = emptyGroup();
  readonly breakdowns: Breakdown[];
  /** For the charts, whatever `--by` asks for. */
  readonly byDay = new Map<string, GroupStats>();
  readonly byModel = new Map<string, GroupStats>();
  readonly byError = new Map<string, number>();
  readonly tokenHistogram: number[] = [];
  unreadable = 0;
  /** The first few unreadable lines, as `file:line`, for the warning. */
  readonly unreadableAt: string[] = [];
  /** Lines that add nothing to the cost, by reason and model (`<reason>\0<model>`), for the warnings. */
  readonly leftOut = new Map<string, { reason: LeftOutReason; model: string; lines: number }>();
  /** The first few lines with absurd numbers, as `file:line`. */
  readonly absurdAt: string[] = [];
  /** Provider batch lines read (priced with `price`). */
  batchLines = 0;

  /** `price`: for lines that carry no cost of their own (provider batch lines). */
  constructor(
    by: Dimension[][],
    private readonly price?: LinePricer,
  ) {
    this.breakdowns = by.map((dims) => ({ by: dims, groups: new Map() }));
  }

  /** `where`: the line's `file:line`, named in the warnings when its numbers are absurd. */
  add(raw: Line, where?: string): void {
    if (isBatchLine(raw)) this.batchLines++;
    const line = asReportLine(raw, this.price);
    const figures = lineFigures(line);
    this.noteLeftOut(line, figures, where);
    addToGroup(this.total, line, figures);
    for (const b of this.breakdowns) {
      const key = b.by.map((d) => dimensionValue(line, d));
      const id = key.join('\0');
      let g = b.groups.get(id);
      if (!g) {
        g = { key, stats: emptyGroup() };
        b.groups.set(id, g);
      }
      addToGroup(g.stats, line, figures);
    }
    addTo(this.byDay, dimensionValue(line, 'day'), line, figures);
    addTo(this.byModel, dimensionValue(line, 'model'), line, figures);
    const error = dimensionValue(line, 'error');
    if (error !== NONE) this.byError.set(error, (this.byError.get(error) ?? 0) + 1);
    const u = figures.tokens;
    if (u) {
      const b = tokenBucket(u.input + u.output);
      while (this.tokenHistogram.length <= b) this.tokenHistogram.push(0);
      this.tokenHistogram[b]!++;
    }
  }

  private noteLeftOut(line: Line, figures: LineFigures, where: string | undefined): void {
    if (figures.leftOut === null) return;
    const model = dimensionValue(line, 'model');
    const id = `${figures.leftOut}\0${model}`;
    const entry = this.leftOut.get(id) ?? { reason: figures.leftOut, model, lines: 0 };
    entry.lines++;
    this.leftOut.set(id, entry);
    if (figures.leftOut === 'absurd numbers' && where !== undefined && this.absurdAt.length < 5) this.absurdAt.push(where);
  }

  /** The lines left out of the cost, most first. */
  leftOutList(): Array<{ reason: LeftOutReason; model: string; lines: number }> {
    return [...this.leftOut.values()].sort((a, b) => b.lines - a.lines || a.reason.localeCompare(b.reason) || a.model.localeCompare(b.model));
  }

  addUnreadable(where: string): void {
    this.unreadable++;
    if (this.unreadableAt.length < 5) this.unreadableAt.push(where);
  }

  /** Statuses seen, in report order. */
  statuses(): string[] {
    const seen = Object.keys(this.total.byStatus);
    return [...STATUS_ORDER.filter((s) => seen.includes(s)), ...seen.filter((s) => !STATUS_ORDER.includes(s)).sort()];
  }
}

function addTo(map: Map<string, GroupStats>, key: string, line: Line, figures: LineFigures): void {
  let g = map.get(key);
  if (!g) {
    g = emptyGroup();
    map.set(key, g);
  }
  addToGroup(g, line, figures);
}

/** Days in date order; everything else by cost, then lines, then name. */
export function sortedGroups(b: Breakdown): Array<{ key: string[]; stats: GroupStats }> {
  const groups = [...b.groups.values()];
  if (b.by.length === 1 && b.by[0] === 'day') return groups.sort((x, y) => x.key[0]!.localeCompare(y.key[0]!));
  return groups.sort((x, y) => y.stats.costNanos - x.stats.costNanos || y.stats.lines - x.stats.lines || x.key.join('\0').localeCompare(y.key.join('\0')));
}
