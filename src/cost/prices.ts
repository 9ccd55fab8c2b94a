/**
 * The price table: USD per 1M tokens for each model, with the date and source of each price. Pure:
 * files are read by ./load-prices.ts; this module validates their parsed JSON, merges tables (a
 * user's file over the bundled one) and resolves the model names that APIs report.
 *
 * Prices are kept as integer pico-dollars per token (USD per 1M tokens x 1e6), so that line costs are
 * whole numbers before they are rounded once, to nano-dollars (see ./compute.ts).
 */

import { ConfigError } from '../config/load.js';

/** Service tiers a price file can price on their own; the entry's own rates are the standard tier's. */
export const PRICED_TIERS = ['batch', 'flex', 'priority'] as const;
export type PricedTier = (typeof PRICED_TIERS)[number];

/** The rates of one tier, in pico-USD per token, with the date and source of the price. */
export interface TierRates {
  input: number;
  cachedInput: number;
  output: number;
  asOf: string | null;
  source: string | null;
}

/** A model's standard rates (its own fields) and the rates of the tiers the table prices for it. */
export interface ModelPrice extends TierRates {
  /** The table's name for the model (after alias resolution). */
  model: string;
  /** Tiers without an entry here are priced at the standard rates (./tiers.ts). */
  tiers: Partial<Record<PricedTier, TierRates>>;
}

export type PriceTable = ReadonlyMap<string, ModelPrice>;

/** Rates as written in a price file (USD per 1M tokens); see docs/cost.md. */
interface RatesEntry {
  input: number;
  cached_input?: number;
  output: number;
  as_of?: string;
  source?: string;
}

/** One model's entry as written in a price file: its standard rates, and optionally a tier's each. */
interface PriceEntry extends RatesEntry, Partial<Record<PricedTier, RatesEntry>> {
  aliases?: string[];
}

const RATE_FIELDS = ['input', 'cached_input', 'output', 'as_of', 'source'];

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
    const e = checkRatesObject(raw, where);
    if (e.aliases !== undefined && !(Array.isArray(e.aliases) && e.aliases.every((a) => typeof a === 'string' && a.length > 0))) {
      throw new PriceFileError(`${where}.aliases: must be a list of model names`);
    }
    const known = [...RATE_FIELDS, 'aliases', ...PRICED_TIERS];
    const unknown = Object.keys(e).filter((k) => !known.includes(k));
    if (unknown.length > 0) throw new PriceFileError(`${where}: unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')}`);
    const tiers: ModelPrice['tiers'] = {};
    for (const tier of PRICED_TIERS) {
      if (e[tier] === undefined) continue;
      const t = checkRatesObject(e[tier], `${where}.${tier}`);
      const extra = Object.keys(t).filter((k) => !RATE_FIELDS.includes(k));
      if (extra.length > 0) throw new PriceFileError(`${where}.${tier}: unknown field ${extra.map((k) => JSON.stringify(k)).join(', ')}`);
      tiers[tier] = toRates(t as RatesEntry);
    }
    const price: ModelPrice = { model: name, ...toRates(e as RatesEntry), tiers };
    out.set(name, price);
    for (const alias of e.aliases ?? []) out.set(alias, price);
  }
  return out;
}

/** Checks the rate fields of a model entry or of one of its tiers; other fields are the caller's. */
function checkRatesObject(raw: unknown, where: string): Partial<PriceEntry> & Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new PriceFileError(`${where}: must be an object with input, output (USD per 1M tokens)`);
  const e = raw as Partial<PriceEntry> & Record<string, unknown>;
  for (const field of ['input', 'output'] as const) {
    if (!isPrice(e[field])) throw new PriceFileError(`${where}.${field}: must be a number of USD per 1M tokens (0 or more)`);
  }
  if (e.cached_input !== undefined && !isPrice(e.cached_input)) throw new PriceFileError(`${where}.cached_input: must be a number of USD per 1M tokens (0 or more)`);
  for (const field of ['as_of', 'source'] as const) {
    if (e[field] !== undefined && typeof e[field] !== 'string') throw new PriceFileError(`${where}.${field}: must be a string`);
  }
  return e;
}

function toRates(e: RatesEntry): TierRates {
  return {
    input: toPico(e.input),
    // Rates without a cached rate bill cached tokens as ordinary input.
    cachedInput: toPico(e.cached_input ?? e.input),
    output: toPico(e.output),
    asOf: e.as_of ?? null,
    source: e.source ?? null,
  };
}

function ratesToJson(r: TierRates): RatesEntry {
  return {
    input: r.input / PICO_PER_USD_PER_MILLION,
    cached_input: r.cachedInput / PICO_PER_USD_PER_MILLION,
    output: r.output / PICO_PER_USD_PER_MILLION,
    ...(r.asOf === null ? {} : { as_of: r.asOf }),
    ...(r.source === null ? {} : { source: r.source }),
  };
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
    const entry: PriceEntry = ratesToJson(p);
    for (const tier of PRICED_TIERS) {
      const t = p.tiers[tier];
      if (t) entry[tier] = ratesToJson(t);
    }
    models[name] = entry;
  }
  return { models };
}
