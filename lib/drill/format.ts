/**
 * Number and colour formatting shared by the drill's table and progress display.
 *
 * @packageDocumentation
 */

/** A count with thousands separators: `41,233`. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/**
 * Milliseconds for people: two decimals below 10 ms (`0.41 ms`), one below 100 ms (`38.2 ms`),
 * whole milliseconds below 10 s (`1,204 ms`), seconds above (`12.3 s`).
 */
export function formatMs(ms: number): string {
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  if (ms < 10_000) return `${formatCount(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Seconds with one decimal: `12.3 s`. */
export function formatSeconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
}

/** The styles the drill uses. */
export type Style = 'bold' | 'dim' | 'red' | 'green';

const CODES: Record<Style, [number, number]> = { bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39] };

/** Returns a function that wraps text in ANSI styles when `enabled`, and returns it unchanged otherwise. */
export function styler(enabled: boolean): (text: string, ...styles: Style[]) => string {
  return (text, ...styles) => {
    if (!enabled || styles.length === 0 || text === '') return text;
    const on = styles.map((s) => `\x1b[${CODES[s][0]}m`).join('');
    const off = [...styles]
      .reverse()
      .map((s) => `\x1b[${CODES[s][1]}m`)
      .join('');
    return `${on}${text}${off}`;
  };
}
