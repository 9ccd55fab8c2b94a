import path from 'node:path';
import type { z } from 'zod';
import { ConfigError, resolveConfig } from '../config/load.js';
import type { jobConfigSchema, JobConfig } from '../config/schema.js';

/**
 * A job as a job file holds it (docs/job-file.md): snake_case settings, each optional where the file
 * may leave it out. `inputs` and `image_roots` may be one path or a list. Defaults fill in the rest.
 */
export type Job = Omit<Partial<z.input<typeof jobConfigSchema>>, 'inputs' | 'image_roots'> & {
  /** Input files, folders or globs (CSV, JSONL, images). */
  inputs: string | string[];
  /** Folders that image paths inside CSV/JSONL files may point into, besides the file's own folder. */
  image_roots?: string | string[];
};

/** The settings that hold paths, which are resolved against the working folder. */
const PATH_FIELDS = ['out', 'prices'] as const;
const PATH_LIST_FIELDS = ['inputs', 'image_roots'] as const;

/**
 * Validates a job object with the job file's schema, over the defaults, and makes its paths absolute
 * against `cwd`. Throws a ConfigError listing every bad field, as for a job file.
 */
export function resolveJob(job: Job, cwd: string): JobConfig {
  if (job === null || typeof job !== 'object' || Array.isArray(job)) throw new ConfigError('a job must be an object of settings, as a job file holds');
  const values: Record<string, unknown> = { ...job };
  const absolute = (p: unknown) => (typeof p === 'string' ? path.resolve(cwd, p) : p);
  for (const field of PATH_LIST_FIELDS) {
    if (typeof values[field] === 'string') values[field] = [values[field]];
    if (Array.isArray(values[field])) values[field] = (values[field] as unknown[]).map(absolute);
  }
  for (const field of PATH_FIELDS) if (values[field] !== undefined) values[field] = absolute(values[field]);
  const config = resolveConfig([{ origin: 'job', values }]);
  // The default `out` (out/<name>.jsonl) is relative: it lands in `cwd` too.
  return { ...config, out: path.resolve(cwd, config.out) };
}
