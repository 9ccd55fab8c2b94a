/**
 * What the worker reads of response headers: a case-insensitive lookup. The WHATWG `Headers` class
 * fits it too, so pure code and its tests do not depend on the HTTP client.
 */
export interface ResponseHeaders {
  get(name: string): string | null;
}

/** undici hands response headers over as a plain object with lower-case names. */
export class HeaderLookup implements ResponseHeaders {
  constructor(private readonly raw: Record<string, string | string[] | undefined>) {}

  get(name: string): string | null {
    const v = this.raw[name.toLowerCase()];
    if (v === undefined) return null;
    return Array.isArray(v) ? v.join(', ') : v;
  }
}
