/**
 * Totals and breakdowns over results lines, for `respool report`. Pure and streaming: lines are
 * added one at a time and only per-group sums are kept, so memory grows with the number of groups,
 * never with the number of lines. Costs are added as integer nano-dollars read back from each line's
 * `cost.total`, so a report's total is exactly the sum of its lines' costs.
 */
import { lineTotalNanos, usageCounts } from '../cost/compute.js';

export interface GroupStats {
  lines: number;
  byStatus: Record<string, number>;
  tokens: { input: number; cached: number; output: number; reasoning: number };
  costNanos: number;
  /** Lines with usage but no cost (their model had no price when they were written). */
  unpriced: number;
  /** Lines whose cost the API reported (`cost.source` "api"). */
  apiPriced: number;
}

/** Built-in dimensions; anything else names a key of the line's `metadata`. */
export const BUILTIN_DIMENSIONS = ['model', 'run', 'day', 'status', 'error'] as const;
export type Dimension = (typeof BUILTIN_DIMENSIONS)[number] | `metadata.${string}`;

/** Statuses in the order reports show them; statuses not listed (newer ones) follow in name order. */
export const STATUS_ORDER = ['completed', 'incomplete', 'failed', 'rejected', 'skipped'];

export const NONE = '(none)';

export function emptyGroup(): GroupStats {
  return { lines: 0, byStatus: {}, tokens: { input: 0, cached: 0, output: 0, reasoning: 0 }, costNanos: 0, unpriced: 0, apiPriced: 0 };
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

export const DEFAULT_BY = 'model,run,day,status';

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

/** Adds one line to a group. */
export function addToGroup(g: GroupStats, line: Line): void {
  g.lines++;
  const status = str(line['status']) ?? NONE;
  g.byStatus[status] = (g.byStatus[status] ?? 0) + 1;
  // A duplicate's tokens were paid for on the line of the item that called (docs/output-line.md#duplicates).
  const u = line['duplicate_of'] === undefined ? usageCounts(line['usage']) : null;
  if (u) {
    g.tokens.input += u.input;
    g.tokens.cached += u.cached;
    g.tokens.output += u.output;
    g.tokens.reasoning += u.reasoning;
  }
  const cost = lineTotalNanos(line['cost']);
  if (cost !== null) {
    g.costNanos += cost;
    if ((line['cost'] as Line)['source'] === 'api') g.apiPriced++;
  } else if (u) g.unpriced++;
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

  constructor(by: Dimension[][]) {
    this.breakdowns = by.map((dims) => ({ by: dims, groups: new Map() }));
  }

  add(line: Line): void {
    addToGroup(this.total, line);
    for (const b of this.breakdowns) {
      const key = b.by.map((d) => dimensionValue(line, d));
      const id = key.join('\0');
      let g = b.groups.get(id);
      if (!g) {
        g = { key, stats: emptyGroup() };
        b.groups.set(id, g);
      }
      addToGroup(g.stats, line);
    }
    addTo(this.byDay, dimensionValue(line, 'day'), line);
    addTo(this.byModel, dimensionValue(line, 'model'), line);
    const error = dimensionValue(line, 'error');
    if (error !== NONE) this.byError.set(error, (this.byError.get(error) ?? 0) + 1);
    const u = usageCounts(line['usage']);
    if (u) {
      const b = tokenBucket(u.input + u.output);
      while (this.tokenHistogram.length <= b) this.tokenHistogram.push(0);
      this.tokenHistogram[b]!++;
    }
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

function addTo(map: Map<string, GroupStats>, key: string, line: Line): void {
  let g = map.get(key);
  if (!g) {
    g = emptyGroup();
    map.set(key, g);
  }
  addToGroup(g, line);
}

/** Days in date order; everything else by cost, then lines, then name. */
export function sortedGroups(b: Breakdown): Array<{ key: string[]; stats: GroupStats }> {
  const groups = [...b.groups.values()];
  if (b.by.length === 1 && b.by[0] === 'day') return groups.sort((x, y) => x.key[0]!.localeCompare(y.key[0]!));
  return groups.sort((x, y) => y.stats.costNanos - x.stats.costNanos || y.stats.lines - x.stats.lines || x.key.join('\0').localeCompare(y.key.join('\0')));
}
