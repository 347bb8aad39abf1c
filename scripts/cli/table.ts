/** Plain-text tables for the terminal. */

/** Width of a cell as the terminal shows it, near enough: one column per code point. */
function width(text: string): number {
  return [...text].length
}

/**
 * Left-aligned columns two spaces apart, a dashed rule under the header, no trailing spaces:
 * readable in a terminal and easy to cut with `awk`.
 */
export function renderTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((title, column) =>
    Math.max(width(title), ...rows.map((row) => width(row[column] ?? ''))),
  )
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => cell + ' '.repeat((widths[column] ?? 0) - width(cell)))
      .join('  ')
      .trimEnd()
  const rule = widths.map((size) => '-'.repeat(size))
  return [line(header), line(rule), ...rows.map(line)].map((text) => `${text}\n`).join('')
}
