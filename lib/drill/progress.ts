/**
 * The drill's live progress display: on a terminal, one line with a bar redrawn in place; in
 * a log (CI, a pipe), a plain line at most every second. Log lines (a rotation started, the
 * proxy flipped) are printed above the bar in both cases.
 *
 * @packageDocumentation
 */

import { performance } from 'node:perf_hooks';
import { formatCount, formatSeconds, styler } from './format.js';

/** Where progress goes: any writable stream; `isTTY` and `columns` as on `process.stderr`. */
export type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

/** What the drill reports with each {@link Progress.update}. */
export interface ProgressState {
  /** Milliseconds since the drill's load started. */
  elapsedMs: number;
  /** Queries that succeeded so far (all targets). */
  ok: number;
  /** Queries that failed so far (all targets). */
  failed: number;
  /** What is happening: `warming up`, `rotation 1`, `steady`, ... */
  phase: string;
}

/** A progress display. See {@link createProgress}. */
export interface Progress {
  /** Shows `state` (redrawn at most every {@link ProgressOptions.ttyIntervalMs}, or printed at most every {@link ProgressOptions.lineIntervalMs}). */
  update(state: ProgressState): void;
  /** Prints `line` on its own line (above the bar on a terminal). */
  log(line: string): void;
  /** Clears the bar (terminal) or prints the last state not yet printed (log). Idempotent; later updates are ignored. */
  done(): void;
}

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  /** Colour failures in red. @defaultValue false */
  color?: boolean;
  /** The clock the throttling uses, in ms. @defaultValue `performance.now` */
  now?: () => number;
  /** On a terminal, the least time between two redraws, ms (a phase change redraws at once). @defaultValue 100 */
  ttyIntervalMs?: number;
  /** Otherwise, the least time between two printed lines, ms. @defaultValue 1000 */
  lineIntervalMs?: number;
}

/** Columns assumed when the stream does not say. */
const DEFAULT_COLUMNS = 80;
const MIN_BAR = 10;
const MAX_BAR = 40;

/**
 * A progress reporter for a drill of `totalMs`: a bar redrawn in place with `\r` when
 * `stream.isTTY` (as wide as `stream.columns` allows), plain lines otherwise.
 *
 * @example
 * ```ts
 * const progress = createProgress(process.stderr, 20_000);
 * const timer = setInterval(() => progress.update({ elapsedMs: load.now(), ok: load.ok, failed: load.failed, phase }), 100);
 * progress.log('rotation 1 started');
 * // ...
 * clearInterval(timer);
 * progress.done();
 * ```
 */
export function createProgress(stream: ProgressStream, totalMs: number, options: ProgressOptions = {}): Progress {
  const paint = styler(options.color === true);
  const now = options.now ?? (() => performance.now());
  const tty = stream.isTTY === true;
  const interval = tty ? (options.ttyIntervalMs ?? 100) : (options.lineIntervalMs ?? 1000);
  let last: ProgressState | undefined;
  let shown: ProgressState | undefined;
  let shownAt = Number.NEGATIVE_INFINITY;
  let barVisible = false;
  let finished = false;

  const counts = (s: ProgressState) => {
    const failed = `failed ${formatCount(s.failed)}`;
    return {
      plain: `ok ${formatCount(s.ok)}  ${failed}`,
      painted: `ok ${formatCount(s.ok)}  ${s.failed > 0 ? paint(failed, 'red') : failed}`,
    };
  };

  /** The bar line, at most `columns - 1` visible characters so the terminal never wraps it. */
  const barLine = (s: ProgressState): string => {
    const budget = Math.max(1, (stream.columns ?? DEFAULT_COLUMNS) - 1);
    const c = counts(s);
    const text = `${formatSeconds(s.elapsedMs)} / ${formatSeconds(totalMs)}  ${c.plain}  ${s.phase}`;
    const room = budget - text.length - 3;
    if (room < MIN_BAR) return text.length <= budget ? text.replace(c.plain, c.painted) : text.slice(0, budget);
    const width = Math.min(MAX_BAR, room);
    const ratio = totalMs > 0 ? Math.min(1, Math.max(0, s.elapsedMs / totalMs)) : 1;
    const filled = Math.round(ratio * width);
    return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${text.replace(c.plain, c.painted)}`;
  };

  const plainLine = (s: ProgressState) => `${formatSeconds(s.elapsedMs)} / ${formatSeconds(totalMs)}  ${counts(s).painted}  ${s.phase}`;

  const show = (s: ProgressState) => {
    shown = s;
    shownAt = now();
    if (tty) {
      stream.write(`\r${barLine(s)}\x1b[K`);
      barVisible = true;
    } else {
      stream.write(`${plainLine(s)}\n`);
    }
  };

  return {
    update(state) {
      if (finished) return;
      last = { ...state };
      const phaseChanged = tty && shown !== undefined && shown.phase !== state.phase;
      if (phaseChanged || now() - shownAt >= interval) show(last);
    },
    log(line) {
      if (tty && barVisible) {
        stream.write(`\r\x1b[K${line}\n`);
        if (!finished && last) show(last);
      } else {
        stream.write(`${line}\n`);
      }
    },
    done() {
      if (finished) return;
      finished = true;
      if (tty) {
        if (barVisible) stream.write('\r\x1b[K');
        barVisible = false;
      } else if (last && last !== shown) {
        show(last);
      }
    },
  };
}
