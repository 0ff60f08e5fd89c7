/**
 * Progress on stderr for dump and restore. With a terminal: one line redrawn in place with
 * per-table and total documents, bytes, rate and ETA. Without one: a plain line every few
 * seconds, so logs stay readable. Nothing when quiet. Warnings are printed either way unless
 * quiet.
 *
 * @module
 */

/** Where and how progress is shown. */
export interface ProgressOptions {
  /** Print nothing (`-q`). */
  quiet?: boolean;
  /** Redraw one line in place; default: whether stderr is a terminal. */
  tty?: boolean;
  /** Milliseconds between updates; default 200 with a terminal, 5000 without. */
  intervalMs?: number;
  /** Where text goes; default stderr. */
  write?: (text: string) => void;
}

interface TableState {
  documents: number;
  /** Changes applied (a restore replaying a point-in-time dump). */
  changes: number;
  bytes: number;
  estimate: number;
  done: boolean;
}

const encoder = new TextEncoder();

function writeStderr(text: string): void {
  Deno.stderr.writeSync(encoder.encode(text));
}

/**
 * Tracks documents and bytes per table and reports them.
 *
 * @example
 * ```ts
 * const progress = new Progress("dump", { quiet: false });
 * progress.startTable("league.users", 1000);
 * progress.add("league.users", 200, 74_000);
 * progress.finishTable("league.users");
 * progress.stop();
 * ```
 */
export class Progress {
  readonly #verb: string;
  readonly #quiet: boolean;
  readonly #tty: boolean;
  readonly #write: (text: string) => void;
  readonly #tables = new Map<string, TableState>();
  readonly #started = performance.now();
  #timer: ReturnType<typeof setInterval> | undefined;
  #lineShown = false;
  /**
   * Shown after the rate when it returns text: what holds the run back (`--max-rate`,
   * `--backoff`; see `src/throttle/throttle.ts`). Called once per line.
   */
  note: (() => string | undefined) | undefined;

  constructor(verb: string, options: ProgressOptions = {}) {
    this.#verb = verb;
    this.#quiet = options.quiet ?? false;
    this.#tty = options.tty ?? Deno.stderr.isTerminal();
    this.#write = options.write ?? writeStderr;
    if (!this.#quiet) {
      const interval = options.intervalMs ?? (this.#tty ? 200 : 5000);
      this.#timer = setInterval(() => this.#report(), interval);
      Deno.unrefTimer(this.#timer);
    }
  }

  /** Registers a table with the server's estimate of its documents (0 if unknown). */
  startTable(name: string, estimate = 0): void {
    this.#tables.set(name, { documents: 0, changes: 0, bytes: 0, estimate, done: false });
  }

  /** Counts documents and bytes done for a table. */
  add(name: string, documents: number, bytes: number): void {
    const state = this.#tables.get(name);
    if (!state) return;
    state.documents += documents;
    state.bytes += bytes;
  }

  /**
   * Counts changes applied to a table (a restore's replay of a point-in-time dump): shown
   * beside the documents once there are any.
   *
   * @example
   * ```ts
   * const progress = new Progress("restore", { quiet: true });
   * progress.startTable("league.users");
   * progress.addChanges("league.users", 40);
   * progress.line(); // "restore: 0 docs | 40 changes | 0 B | …"
   * ```
   */
  addChanges(name: string, changes: number): void {
    const state = this.#tables.get(name);
    if (state) state.changes += changes;
  }

  /** Marks a table finished. */
  finishTable(name: string): void {
    const state = this.#tables.get(name);
    if (state) state.done = true;
  }

  /** Prints a warning line (unless quiet), keeping the progress line intact. */
  warn(message: string): void {
    if (this.#quiet) return;
    this.#clearLine();
    this.#write(`warning: ${message}\n`);
  }

  /** Prints an informational line (unless quiet). */
  info(message: string): void {
    if (this.#quiet) return;
    this.#clearLine();
    this.#write(`${message}\n`);
  }

  /** Stops reporting and clears the progress line. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#clearLine();
  }

  /** The current text of the progress line. */
  line(): string {
    let documents = 0;
    let changes = 0;
    let bytes = 0;
    let estimate = 0;
    let estimated = false;
    const active: string[] = [];
    for (const [name, state] of this.#tables) {
      documents += state.documents;
      changes += state.changes;
      bytes += state.bytes;
      // A finished table's count is exact; the server's estimate only stands in until then.
      estimate += state.done ? state.documents : Math.max(state.estimate, state.documents);
      estimated ||= state.estimate > 0;
      if (!state.done && state.documents > 0) {
        active.push(`${name} ${formatCount(state.documents)}${percent(state)}`);
      }
    }
    if (!estimated) estimate = 0;
    const seconds = (performance.now() - this.#started) / 1000;
    const rate = seconds > 0 ? documents / seconds : 0;
    const done = [...this.#tables.values()].filter((s) => s.done).length;
    const inFlight = this.#tables.size - done;
    const note = this.note?.();
    const parts = [
      `${this.#verb}: ${formatCount(documents)}${estimate ? `/${formatCount(estimate)}` : ""} docs`,
      ...(changes > 0 ? [`${formatCount(changes)} changes`] : []),
      formatBytes(bytes),
      `${formatCount(Math.round(rate))} docs/s${note ? ` ${note}` : ""}`,
      `tables ${done}/${this.#tables.size}${inFlight > 0 ? ` (${inFlight} in flight)` : ""}`,
    ];
    if (rate > 0 && estimate > documents) {
      parts.push(`ETA ${formatDuration((estimate - documents) / rate)}`);
    }
    if (active.length > 0) parts.push(active.slice(0, 3).join(", "));
    return parts.join(" | ");
  }

  #report(): void {
    if (this.#quiet || this.#tables.size === 0) return;
    if (this.#tty) {
      const columns = terminalColumns();
      this.#write(`\r\x1b[2K${this.line().slice(0, columns - 1)}`);
      this.#lineShown = true;
    } else {
      this.#write(`${this.line()}\n`);
    }
  }

  #clearLine(): void {
    if (this.#lineShown) this.#write("\r\x1b[2K");
    this.#lineShown = false;
  }
}

function percent(state: TableState): string {
  if (state.estimate <= 0) return "";
  return ` (${Math.min(100, Math.floor((state.documents / state.estimate) * 100))}%)`;
}

function terminalColumns(): number {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return 120;
  }
}

/**
 * `1234567` → `1,234,567`.
 *
 * @example
 * ```ts
 * formatCount(1234567); // "1,234,567"
 * ```
 */
export function formatCount(value: number): string {
  return value.toLocaleString("en-US");
}

/**
 * Bytes in binary units with one decimal.
 *
 * @example
 * ```ts
 * formatBytes(1536); // "1.5 KiB"
 * ```
 */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * Seconds as `1h02m`, `3m05s` or `42s`.
 *
 * @example
 * ```ts
 * formatDuration(185); // "3m05s"
 * ```
 */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  return `${s}s`;
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}
