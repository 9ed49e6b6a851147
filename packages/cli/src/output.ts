/** Where a command writes. Injected so tests run the CLI in-process and read what it printed. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** True when stdout is a terminal (progress bars and live views only then). */
  readonly interactive: boolean;
}

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  interactive: process.stdout.isTTY === true,
};

/** Human output by default; `--json` prints exactly one JSON document per command. */
export class Output {
  constructor(
    private readonly io: CliIo,
    readonly json: boolean,
  ) {}

  get interactive(): boolean {
    return this.io.interactive && !this.json;
  }

  /** The command's result: `human` lines unless `--json`, then `data` as one JSON document. */
  result(data: unknown, human: string | readonly string[]): void {
    if (this.json) this.io.stdout(`${JSON.stringify(data, null, 2)}\n`);
    else this.io.stdout(`${typeof human === "string" ? human : human.join("\n")}\n`);
  }

  /** A progress or status line for people (stderr, so `--json` stdout stays one document). */
  note(text: string): void {
    if (!this.json) this.io.stderr(`${text}\n`);
  }

  /** Rewrites the current stderr line (progress bars); only on a terminal. */
  progress(text: string): void {
    if (this.interactive) this.io.stderr(`\r${text}`);
  }

  error(text: string): void {
    this.io.stderr(`${text}\n`);
  }
}

/** Aligned text table. */
export function table(rows: readonly (readonly (string | number | null | undefined)[])[], header: readonly string[]): string {
  const cells = [header, ...rows.map((row) => row.map((cell) => (cell === null || cell === undefined ? "-" : String(cell))))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? "").length)));
  return cells.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join("  ")).join("\n");
}

/** 1234 → "1.2 s", 850 → "850 ms". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "-";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} m ${Math.round((ms % 60_000) / 1000)} s`;
}
