/**
 * Which `Host` headers the dashboard answers. It listens on 127.0.0.1, but a web page can still reach
 * it: DNS rebinding points the page's own name (`evil.example`) at 127.0.0.1, and the browser then
 * sends the page's requests, with `Host: evil.example`, to the dashboard, whose answers (prompts, job
 * data) the page may read. Answering only the names that mean this machine stops that. Pure.
 */

/** Names that always mean the loopback address the dashboard is bound to. */
const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

/** The host name of a Host header, lower-cased, without its port; null when there is none. */
export function hostName(header: string | undefined): string | null {
  if (!header) return null;
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? null : h.slice(0, end + 1);
  }
  const name = h.split(':')[0]!;
  return name === '' ? null : name;
}

/** True when the dashboard may answer a request with this Host header. */
export function hostAllowed(header: string | undefined, extra: readonly string[] = []): boolean {
  const name = hostName(header);
  if (name === null) return false;
  return LOOPBACK_NAMES.includes(name) || extra.some((e) => hostName(e) === name);
}
