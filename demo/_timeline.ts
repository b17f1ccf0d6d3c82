/**
 * The demo's output: timeline lines stamped with the seconds since it
 * started, and a progress line under them.
 *
 * @module
 */

/** What the progress line shows: `measure` runs at each tick, before `text`. */
export interface Progress {
  /** Takes the figures the text shows (rates since the last tick). */
  measure(): void;
  /** The progress line, without its stamp. */
  text(): string;
}

/**
 * Where the demo writes: lines stamped with the seconds since the timeline
 * started (`  3.0s  rsyslogd: …`), notes that continue them, and, once
 * started, a progress line: redrawn in place under the last line every 250 ms
 * on a terminal, printed as a line of its own every 2 s otherwise.
 */
export class Timeline {
  #write: (text: string) => void;
  #terminal: boolean;
  #startedAt = performance.now();
  #progress: Progress | undefined;
  #progressTimer: ReturnType<typeof setInterval> | undefined;
  #progressShown = false;

  /** `write` takes the text; `terminal`: redraw the progress line in place. */
  constructor(write: (text: string) => void, terminal: boolean) {
    this.#write = write;
    this.#terminal = terminal;
  }

  /** Text as it is, without a stamp. */
  print(text: string): void {
    this.#write(text);
  }

  /** A timeline line, above the progress line. */
  line(text: string): void {
    this.#clearProgress();
    this.print(`${this.elapsed()}  ${text}\n`);
    this.#drawProgress();
  }

  /** A line continuing the previous one. */
  note(text: string): void {
    this.#clearProgress();
    this.print(`        ${text}\n`);
    this.#drawProgress();
  }

  /** Now, as the stamp of a line (`  3.0s`). */
  elapsed(): string {
    return `${this.at(performance.now()).padStart(6)}`;
  }

  /** A `performance.now()` time as seconds into the timeline. */
  at(t: number): string {
    return `${((t - this.#startedAt) / 1000).toFixed(1)}s`;
  }

  /** Shows `progress` from now on. */
  startProgress(progress: Progress): void {
    this.#progress = progress;
    const every = this.#terminal ? 250 : 2000;
    this.#progressTimer = setInterval(() => {
      progress.measure();
      if (this.#terminal) {
        this.#clearProgress();
        this.#drawProgress();
      } else {
        this.print(`${this.elapsed()}  · ${progress.text()}\n`);
      }
    }, every);
    this.#drawProgress();
  }

  /** No progress line any more. */
  stopProgress(): void {
    if (this.#progressTimer !== undefined) clearInterval(this.#progressTimer);
    this.#progressTimer = undefined;
    this.#clearProgress();
  }

  #drawProgress(): void {
    const progress = this.#progress;
    if (!this.#terminal || this.#progressTimer === undefined || progress === undefined) return;
    this.print(`${this.elapsed()}  ${progress.text()}`.slice(0, terminalWidth()));
    this.#progressShown = true;
  }

  #clearProgress(): void {
    if (!this.#progressShown) return;
    this.print("\r\x1b[2K");
    this.#progressShown = false;
  }
}

/** A count for a reader: rounded, with thousands separators (`12,345`). */
export function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** Columns for the progress line: the terminal's, less one (120 when it does not say). */
function terminalWidth(): number {
  try {
    const { columns } = Deno.consoleSize();
    return columns > 1 ? columns - 1 : 120;
  } catch {
    return 120;
  }
}
