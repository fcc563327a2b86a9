/** Prints rows as an aligned table with a header; an empty list prints `empty` instead. */
export function printTable(columns: readonly string[], rows: ReadonlyArray<ReadonlyArray<string>>, empty: string): void {
  if (rows.length === 0) {
    console.log(empty);
    return;
  }
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ');
  console.log(line(columns.map((c) => c.toUpperCase())));
  for (const row of rows) console.log(line(row));
}

/** Prints a value as indented JSON, for scripts (`--json`). */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}
