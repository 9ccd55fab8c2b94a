/**
 * The price table: USD per 1M tokens for each model, with the date and source of each price. Pure:
 * files are read by ./load-prices.ts; this module validates their parsed JSON, merges tables (a
 * user's file over the bundled one) and resolves the model names that APIs report.
 *
 * Prices are kept as integer pico-dollars per token (USD per 1M tokens x 1e6), so that line costs are
 * whole numbers before they are rounded once, to nano-dollars (see ./compute.ts).
 */

import { ConfigError } from '../config/load.js';

export interface ModelPrice {
  /** The table's name for the model (after alias resolution). */
  model: string;
  /** Pico-USD per token. */
  input: number;
  cachedInput: number;
  output: number;
  asOf: string | null;
  source: string | null;
}

export type PriceTable = ReadonlyMap<string, ModelPrice>;

/** One model's entry as written in a price file; see docs/cost.md. */
interface PriceEntry {
  input: number;
  cached_input?: number;
  output: number;
  as_of?: string;
  source?: string;
  aliases?: string[];
}

/** A bad price file is a bad setting: the CLI exits with 2, naming the file and the field. */
export class PriceFileError extends ConfigError {
  override name = 'PriceFileError';
}

const PICO_PER_USD_PER_MILLION = 1_000_000;
/** At most 6 decimals: a price given per 1M tokens then maps to a whole number of pico-dollars per token. */
function toPico(usdPerMillion: number): number {
  return Math.round(usdPerMillion * PICO_PER_USD_PER_MILLION);
}

function isPrice(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v < 1_000_000;
}

/**
 * Validates one parsed price file (`{ "models": { name: entry } }`) and returns its entries, each
 * alias as an entry of its own. Throws a PriceFileError naming the file and the bad field.
 */
export function parsePriceFile(json: unknown, origin: string): Map<string, ModelPrice> {
  const out = new Map<string, ModelPrice>();
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new PriceFileError(`${origin}: a price file holds an object with "models"`);
  const { models, currency } = json as { models?: unknown; currency?: unknown };
  if (currency !== undefined && currency !== 'USD') throw new PriceFileError(`${origin}: currency: only USD is supported, got ${JSON.stringify(currency)}`);
  if (typeof models !== 'object' || models === null || Array.isArray(models)) throw new PriceFileError(`${origin}: models: must be an object of model name -> prices`);
  for (const [name, raw] of Object.entries(models as Record<string, unknown>)) {
    const where = `${origin}: models.${name}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new PriceFileError(`${where}: must be an object with input, output (USD per 1M tokens)`);
    const e = raw as Partial<PriceEntry> & Record<string, unknown>;
    for (const field of ['input', 'output'] as const) {
      if (!isPrice(e[field])) throw new PriceFileError(`${where}.${field}: must be a number of USD per 1M tokens (0 or more)`);
    }
    if (e.cached_input !== undefined && !isPrice(e.cached_input)) throw new PriceFileError(`${where}.cached_input: must be a number of USD per 1M tokens (0 or more)`);
    for (const field of ['as_of', 'source'] as const) {
      if (e[field] !== undefined && typeof e[field] !== 'string') throw new PriceFileError(`${where}.${field}: must be a string`);
    }
    if (e.aliases !== undefined && !(Array.isArray(e.aliases) && e.aliases.every((a) => typeof a === 'string' && a.length > 0))) {
      throw new PriceFileError(`${where}.aliases: must be a list of model names`);
    }
    const unknown = Object.keys(e).filter((k) => !['input', 'cached_input', 'output', 'as_of', 'source', 'aliases'].includes(k));
    if (unknown.length > 0) throw new PriceFileError(`${where}: unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')}`);
    const price: ModelPrice = {
      model: name,
      input: toPico(e.input!),
      // A model without a cached rate bills cached tokens as ordinary input.
      cachedInput: toPico(e.cached_input ?? e.input!),
      output: toPico(e.output!),
      asOf: e.as_of ?? null,
      source: e.source ?? null,
    };
    out.set(name, price);
    for (const alias of e.aliases ?? []) out.set(alias, price);
  }
  return out;
}

/** Later tables win, model by model. */
export function mergeTables(...tables: ReadonlyArray<ReadonlyMap<string, ModelPrice>>): Map<string, ModelPrice> {
  const out = new Map<string, ModelPrice>();
  for (const t of tables) for (const [k, v] of t) out.set(k, v);
  return out;
}

/** `o4-mini-2025-04-16` and `gpt-4o-2024-08-06` are snapshots of `o4-mini` and `gpt-4o`. */
const DATED_SUFFIX = /-(\d{4}-\d{2}-\d{2}|\d{4})$/;

/**
 * The price of a model name as an API reports it: the exact name, else without a router's
 * `provider/` prefix (`openai/gpt-4o`), else without a date suffix; an exact entry always wins, so a
 * table can price one snapshot differently. Null when the table does not know the model.
 */
export function findPrice(table: PriceTable, model: string): ModelPrice | null {
  const candidates = [model];
  const slash = model.lastIndexOf('/');
  if (slash >= 0) candidates.push(model.slice(slash + 1));
  for (const c of [...candidates]) if (DATED_SUFFIX.test(c)) candidates.push(c.replace(DATED_SUFFIX, ''));
  for (const c of candidates) {
    const p = table.get(c);
    if (p) return p;
  }
  return null;
}

/** A table as plain JSON (for Redis run settings): the same shape as a price file. */
export function tableToJson(table: ReadonlyMap<string, ModelPrice>): { models: Record<string, PriceEntry> } {
  const models: Record<string, PriceEntry> = {};
  for (const [name, p] of table) {
    models[name] = {
      input: p.input / PICO_PER_USD_PER_MILLION,
      cached_input: p.cachedInput / PICO_PER_USD_PER_MILLION,
      output: p.output / PICO_PER_USD_PER_MILLION,
      ...(p.asOf === null ? {} : { as_of: p.asOf }),
      ...(p.source === null ? {} : { source: p.source }),
    };
  }
  return { models };
}
