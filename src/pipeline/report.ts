import path from 'node:path';
import { parseBy, ReportAggregator } from '../report/aggregate.js';
import { REPORT_DEFAULTS } from '../config/defaults.js';
import { formatCsv, formatJson, formatMarkdown, formatTable, REPORT_FORMATS, type ReportFormat } from '../report/formats.js';
import { formatHtml } from '../report/html.js';
import { ConfigError } from '../config/load.js';
import { expandResultFiles, readResults } from '../report/read-results.js';
import { loadPrices } from '../cost/load-prices.js';
import { Pricer } from '../cost/pricer.js';

export type { ReportFormat } from '../report/formats.js';

export interface ReportOptions {
  /** Folder that the file names and globs are relative to. */
  cwd: string;
  /**
   * Breakdowns, comma-separated: model, run, day, status, error or `metadata.<key>`; `a+b` groups by both.
   * @default REPORT_DEFAULTS.by (config/defaults.ts)
   */
  by?: string;
  /**
   * Output format.
   * @default 'json'
   */
  format?: ReportFormat;
  /** A price file over the bundled prices, for lines that carry no cost (provider batch lines); relative to the process's folder. */
  prices?: string;
  /**
   * csv: names starting with = + - @ tab or CR are written as they are, without the leading ' that
   * keeps spreadsheets from running them as formulas.
   * @default false
   */
  csvRaw?: boolean;
}

/**
 * Totals and breakdowns (cost, tokens, statuses) of results files, read as streams (files of any
 * size), as text in the format asked for (`json`: parse it for the figures). Throws a
 * ReportInputError for a file or glob that is missing, a ConfigError for an unknown format, and an Error for a bad `by`.
 */
export async function reportOn(files: string[], opts: ReportOptions): Promise<string> {
  const format = opts.format ?? 'json';
  // JavaScript callers are not held to the type: an unknown format fails before any file is read.
  if (!(REPORT_FORMATS as readonly string[]).includes(format)) throw new ConfigError(`format: "${String(format)}" is not one of ${REPORT_FORMATS.join(', ')}`);
  const by = parseBy(opts.by ?? REPORT_DEFAULTS.by);
  const paths = await expandResultFiles(files, opts.cwd);
  // Provider batch lines carry usage but no cost: they are priced here, as a run prices its lines.
  const pricer = new Pricer(await loadPrices(opts.prices));
  const agg = new ReportAggregator(by, (model, usage, tier) => pricer.costOf(model, usage, tier));
  await readResults(paths, agg, opts.cwd);
  const ctx = { files: paths.map((f) => path.relative(opts.cwd, f) || f) };
  switch (format) {
    case 'csv':
      return formatCsv(agg, { csvRaw: opts.csvRaw === true });
    case 'json':
      return formatJson(agg, ctx);
    case 'markdown':
      return formatMarkdown(agg, ctx);
    case 'html':
      return formatHtml(agg, ctx);
    case 'table':
      return formatTable(agg, ctx);
  }
}
