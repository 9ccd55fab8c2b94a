/**
 * A plain-text table for people: a header row, columns two spaces apart, the first `leftColumns`
 * columns aligned left (names), the others right (figures). Pure.
 */
export function formatTable(header: string[], rows: string[][], leftColumns: number): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  return [header, ...rows]
    .map((row) =>
      header
        .map((_, i) => (i < leftColumns ? (row[i] ?? '').padEnd(widths[i]!) : (row[i] ?? '').padStart(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
