/**
 * A run's deadline as written by the user: an ISO 8601 time with a UTC offset
 * (`2026-12-05T07:00:00+01:00`, `...Z`) or a duration from now (`90m`, `6h`, `1d2h`, `45s`).
 */
const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/;
const UNIT_MS = [86_400_000, 3_600_000, 60_000, 1_000];

/** Epoch ms of the deadline, or null when the text is neither form (a time without offset is refused: whose 07:00?). */
export function parseDeadline(text: string, now: number): number | null {
  const trimmed = text.trim();
  const duration = DURATION.exec(trimmed);
  if (duration && trimmed !== '') {
    const ms = duration.slice(1).reduce((sum, part, i) => sum + (part === undefined ? 0 : Number(part) * UNIT_MS[i]!), 0);
    return ms > 0 ? now + ms : null;
  }
  if (!ISO_WITH_OFFSET.test(trimmed)) return null;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : at;
}
