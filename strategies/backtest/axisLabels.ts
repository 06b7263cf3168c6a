import { nice, tickStep, ticks } from 'd3-array';

/** A chart's value axis: its tick values (round numbers: 1, 2 or 5 × a power of ten apart) and their step. */
export type Axis = { lo: number; hi: number; ticks: number[]; step: number; max: number };

/** Round ticks over [lo, hi] (about `count` of them), the domain widened to the outer ticks (d3-array). */
export function axisTicks(lo: number, hi: number, count = 4): Axis {
  const [a, b] = nice(lo, hi, count);
  const values = ticks(a, b, count);
  const step = Math.abs(tickStep(a, b, count));
  return { lo: a, hi: b, ticks: values, step, max: Math.max(...values.map(Math.abs)) };
}

/** The digits after the point that show every multiple of `step` exactly: 0.25 → 2, 0.5 → 1, 5 → 0. */
export function decimalsFor(step: number): number {
  for (let digits = 0; digits < 8; digits++) {
    const scaled = step * 10 ** digits;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-6) return digits;
  }
  return 8;
}

const minus = (v: number) => (v < 0 ? '−' : '');

/**
 * USD on an axis, one unit for the whole axis (that of its largest tick) and only the decimals its step needs:
 * $15.5M, $16M, $800k, $1.25B; never $15,533,167.
 */
export function usdTick(value: number, axis: Pick<Axis, 'step' | 'max'>): string {
  const [unit, suffix] =
    axis.max >= 1e9 ? [1e9, 'B'] : axis.max >= 1e6 ? [1e6, 'M'] : axis.max >= 1e3 ? [1e3, 'k'] : [1, ''];
  const digits = decimalsFor(axis.step / unit);
  return `${minus(value)}$${(Math.abs(value) / unit).toFixed(digits)}${suffix}`;
}

/** A fraction as a percentage on an axis, with the decimals the step needs: −20%, 12.5%. */
export function percentTick(value: number, axis: Pick<Axis, 'step'>): string {
  return `${minus(value)}${(Math.abs(value) * 100).toFixed(decimalsFor(axis.step * 100))}%`;
}

/** A plain number on an axis, with the decimals the step needs (thousands separated): 12, 1.5, 1,200. */
export function numberTick(value: number, axis: Pick<Axis, 'step'>): string {
  const digits = decimalsFor(axis.step);
  return `${minus(value)}${Math.abs(value).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })}`;
}
