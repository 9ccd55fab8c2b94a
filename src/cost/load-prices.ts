/** Reads price files: the bundled `prices/*.json`, then a user's file over them (I/O edge of ./prices.ts). */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mergeTables, parsePriceFile, PriceFileError, type ModelPrice } from './prices.js';

/** `prices/` at the package root: two folders up from src/cost and from dist/cost alike. */
export const BUNDLED_PRICES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'prices');

let bundled: Promise<Map<string, ModelPrice>> | null = null;

/** Every `*.json` of the bundled folder, in name order (a later file wins for a model both name). */
export function bundledPrices(): Promise<Map<string, ModelPrice>> {
  bundled ??= (async () => {
    const files = (await readdir(BUNDLED_PRICES_DIR)).filter((f) => f.endsWith('.json')).sort();
    const tables = await Promise.all(files.map((f) => readPriceFile(path.join(BUNDLED_PRICES_DIR, f))));
    return mergeTables(...tables);
  })();
  return bundled;
}

export async function readPriceFile(file: string): Promise<Map<string, ModelPrice>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new PriceFileError(`cannot read price file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PriceFileError(`price file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parsePriceFile(json, file);
}

/** The bundled table with the user's file (job `prices`, `--prices` or RESPOOL_PRICES) over it. */
export async function loadPrices(userFile?: string): Promise<Map<string, ModelPrice>> {
  const base = await bundledPrices();
  return userFile ? mergeTables(base, await readPriceFile(userFile)) : base;
}
