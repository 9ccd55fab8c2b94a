/**
 * Names and files of dated runs. A scheduled (or incremental) run is named `<job>-<date>` and writes
 * to its `out` with `{date}` replaced, the date being the day the run was due in the schedule's time
 * zone: a run due at 02:00 Europe/Berlin on 1 December is `captions-2026-12-01` even though it is
 * still 30 November in UTC. Pure.
 */
import { MAX_DATED_NAME, RUN_NAME_PATTERN } from '../config/schema.js';

export const DATE_PLACEHOLDER = '{date}';

/** `YYYY-MM-DD` of the instant `ms` in time zone `tz`. Throws a RangeError for an unknown zone. */
export function dateIn(ms: number, tz: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(new Date(ms));
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')}`;
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export function isDate(s: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

export function datedRunName(job: string, date: string): string {
  const name = `${job}-${date}`;
  if (!RUN_NAME_PATTERN.test(name)) throw new RangeError(`the run name ${name} is too long: give the job a name of at most ${MAX_DATED_NAME} characters`);
  return name;
}

/** The `out` template with every `{date}` replaced. A template without it names one file for all days. */
export function datedOut(template: string, date: string): string {
  return template.split(DATE_PLACEHOLDER).join(date);
}
