import { formatUsd, nanosToUsd } from '../cost/compute.js';
import { etaSeconds, formatDuration } from '../report/rate.js';

/**
 * What the progress display shows, for the whole run (a resumed run counts the lines written before
 * it too). Pure: the display, the plain line and the JSON event are all made from these figures.
 */
export interface ProgressFigures {
  /** Lines of the run in the results file. */
  done: number;
  /** Items of the run; null while unknown. */
  total: number | null;
  /** The total is counted ahead of the reader (input lines, files), not yet the ledger's own count. */
  totalIsEstimate: boolean;
  failed: number;
  rejected: number;
  /** Calls answered 429 in this process. */
  rateLimited: number;
  /** Cost of the lines this process wrote, in nano-dollars. */
  costNanos: number;
  /** Lines the run had written before this process started (a resumed run); 0 for a new run. */
  resumedFrom: number;
  /** Lines written per second lately; null before there is a measure. */
  rate: number | null;
  elapsedMs: number;
}

/** The total to show: never below what is done (an estimate can be short). */
export function shownTotal(f: ProgressFigures): number | null {
  return f.total === null ? null : Math.max(f.total, f.done);
}

export function etaOf(f: ProgressFigures): number | null {
  const total = shownTotal(f);
  return total === null ? null : etaSeconds(total - f.done, f.rate);
}

/** Share done, 0..1; null while the total is unknown. */
export function fractionDone(f: ProgressFigures): number | null {
  const total = shownTotal(f);
  if (total === null) return null;
  return total === 0 ? 1 : Math.min(1, f.done / total);
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** `[████░░░░]` of `width` cells; an unknown fraction shows an empty bar. */
export function formatBar(fraction: number | null, width: number): string {
  const cells = Math.max(1, width);
  const full = fraction === null ? 0 : Math.min(cells, Math.floor(fraction * cells));
  return `[${'█'.repeat(full)}${'░'.repeat(cells - full)}]`;
}

function doneOfTotal(f: ProgressFigures): string {
  const total = shownTotal(f);
  const shown = total === null ? '?' : `${f.totalIsEstimate ? '~' : ''}${formatCount(total)}`;
  return `${formatCount(f.done)}/${shown}`;
}

function percent(f: ProgressFigures): string {
  const fraction = fractionDone(f);
  return fraction === null ? '  ?%' : `${String(Math.floor(fraction * 100)).padStart(3)}%`;
}

function rateText(f: ProgressFigures): string {
  return f.rate === null ? '-/s' : `${f.rate.toFixed(1)}/s`;
}

function costText(f: ProgressFigures): string {
  return `${formatUsd(f.costNanos)}${f.resumedFrom > 0 ? ' since resume' : ''}`;
}

/** A part of the terminal line; parts with the lowest `keep` go first when the line is too wide. */
interface Part {
  text: string;
  keep: number;
}

function lineParts(f: ProgressFigures): Part[] {
  const parts: Part[] = [
    { text: percent(f), keep: 9 },
    { text: doneOfTotal(f), keep: 10 },
    { text: rateText(f), keep: 7 },
    { text: `elapsed ${formatDuration(f.elapsedMs / 1000)}`, keep: 3 },
    { text: `ETA ${formatDuration(etaOf(f))}`, keep: 8 },
    { text: `failed ${formatCount(f.failed)}`, keep: 6 },
  ];
  if (f.rejected > 0) parts.push({ text: `rejected ${formatCount(f.rejected)}`, keep: 2 });
  parts.push({ text: `429s ${formatCount(f.rateLimited)}`, keep: 4 });
  parts.push({ text: costText(f), keep: 5 });
  if (f.resumedFrom > 0) parts.push({ text: `resumed at ${formatCount(f.resumedFrom)}`, keep: 1 });
  return parts;
}

const SEPARATOR = '  ';
const MIN_BAR = 10;
const MAX_BAR = 30;

/**
 * The line a terminal shows: a bar, then the figures, fitted into `columns` characters (the bar
 * shrinks first, then the least useful figures are left out).
 */
export function terminalLine(f: ProgressFigures, columns: number): string {
  const parts = lineParts(f);
  const width = (list: Part[]) => list.reduce((n, p) => n + p.text.length + SEPARATOR.length, 0);
  // A terminal wraps a line that fills its last column: stay one short of it.
  const room = Math.max(1, columns - 1);
  while (parts.length > 1 && width(parts) + MIN_BAR + 2 > room) {
    const drop = parts.reduce((lo, p, i) => (p.keep < parts[lo]!.keep ? i : lo), 0);
    parts.splice(drop, 1);
  }
  const barCells = Math.min(MAX_BAR, room - width(parts) - 2);
  const text = parts.map((p) => p.text).join(SEPARATOR);
  return barCells >= MIN_BAR ? `${formatBar(fractionDone(f), barCells)}${SEPARATOR}${text}` : text.slice(0, room);
}

/** The line logged every few seconds when stderr is not a terminal. */
export function plainLine(f: ProgressFigures): string {
  const fraction = fractionDone(f);
  const parts = [
    `progress ${doneOfTotal(f)}${fraction === null ? '' : ` (${Math.floor(fraction * 100)}%)`}`,
    `${f.rate === null ? '-' : f.rate.toFixed(1)} lines/s`,
    `elapsed ${formatDuration(f.elapsedMs / 1000)}`,
    `ETA ${formatDuration(etaOf(f))}`,
    `failed ${f.failed}`,
    `rejected ${f.rejected}`,
    `429s ${f.rateLimited}`,
    `cost ${costText(f)}`,
  ];
  if (f.resumedFrom > 0) parts.push(`resumed at ${f.resumedFrom}`);
  return parts.join(', ');
}

/** The fields of a JSON progress event (`--log-json`). */
export interface ProgressEvent {
  event: 'progress';
  done: number;
  total: number | null;
  total_estimated: boolean;
  failed: number;
  rejected: number;
  rate_limited: number;
  /** Lines per second lately, 2 decimals; null before there is a measure. */
  rate: number | null;
  eta_s: number | null;
  elapsed_s: number;
  /** USD of the lines written by this process. */
  cost: number;
  resumed_from: number;
}

export function progressEvent(f: ProgressFigures): ProgressEvent {
  const eta = etaOf(f);
  return {
    event: 'progress',
    done: f.done,
    total: shownTotal(f),
    total_estimated: f.total !== null && f.totalIsEstimate,
    failed: f.failed,
    rejected: f.rejected,
    rate_limited: f.rateLimited,
    rate: f.rate === null ? null : Math.round(f.rate * 100) / 100,
    eta_s: eta === null ? null : Math.round(eta * 10) / 10,
    elapsed_s: Math.round(f.elapsedMs / 100) / 10,
    cost: nanosToUsd(f.costNanos),
    resumed_from: f.resumedFrom,
  };
}
