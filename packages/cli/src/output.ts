/** Where a command writes. Injected so tests run the CLI in-process and read what it printed. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** True when a person watches a terminal (progress bars and live views only then). */
  readonly interactive: boolean;
}

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  // Progress goes to stderr, so that is the stream that must be a terminal.
  interactive: process.stderr.isTTY === true,
};

/** Human output by default; `--json` prints exactly one JSON document per command. */
export class Output {
  #progressShown = false;

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

  /** A line of a live human view on stdout (a run's stages as they happen); nothing under `--json`. */
  line(text: string): void {
    if (!this.json) this.io.stdout(`${text}\n`);
  }

  /** A progress or status line for people (stderr, so `--json` stdout stays one document). */
  note(text: string): void {
    if (!this.json) this.io.stderr(`${text}\n`);
  }

  /** Rewrites the current stderr line (progress bars); only on a terminal. */
  progress(text: string): void {
    if (!this.interactive) return;
    this.#progressShown = true;
    // Erase to the end of the line: a shorter text must not leave the end of the previous one behind.
    this.io.stderr(`\r${text}\u001b[K`);
  }

  /** Ends a progress line so the next output starts on a fresh line. */
  progressDone(): void {
    if (!this.#progressShown) return;
    this.#progressShown = false;
    this.io.stderr("\n");
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

/** An ISO time as people read it in a table: "2026-12-06 08:30:12" (UTC, no milliseconds). */
export function formatTime(iso: string | null | undefined): string {
  if (iso === null || iso === undefined || iso === "") return "-";
  const time = Date.parse(iso);
  return Number.isNaN(time) ? iso : new Date(time).toISOString().slice(0, 19).replace("T", " ");
}

/** 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** `[#########-----------]  45%  1.2 MiB / 2.7 MiB` (width = number of bar cells). */
export function progressBar(done: number, total: number, width = 30): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(fraction * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${String(Math.round(fraction * 100)).padStart(3)}%  ${formatBytes(done)} / ${formatBytes(total)}`;
}
