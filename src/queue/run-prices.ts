/** How a run's prices travel: the user's file is read at enqueue and kept in the run's settings. */
import type { JobConfig } from '../config/schema.js';
import { settingsFromConfig, type RunSettings } from './run-meta.js';
import { bundledPrices, readPriceFile } from '../cost/load-prices.js';
import { Pricer } from '../cost/pricer.js';
import { mergeTables, parsePriceFile, tableToJson } from '../cost/prices.js';

/** The run's settings, with the user's price file (if any) read and validated. */
export async function settingsWithPrices(config: JobConfig): Promise<RunSettings> {
  const settings = settingsFromConfig(config);
  if (config.prices !== undefined) settings.prices = tableToJson(await readPriceFile(config.prices));
  return settings;
}

/** The pricer a worker uses for a run: bundled prices, with the run's own over them. */
export async function pricerForRun(settings: RunSettings, warn: (message: string) => void): Promise<Pricer> {
  const base = await bundledPrices();
  const table = settings.prices === undefined ? base : mergeTables(base, parsePriceFile(settings.prices, `prices of run ${settings.run}`));
  return new Pricer(table, (m) => warn(`run ${settings.run}: ${m}`));
}
