import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  axisTicks,
  decimalsFor,
  numberTick,
  percentTick,
  usdTick,
} from '../strategies/backtest/axisLabels.ts';
import { lineChart } from '../strategies/backtest/report.ts';

/** The value axis labels of a chart (the <text> at the left margin, right-aligned). */
const tickLabels = (svg: string) =>
  [...svg.matchAll(/<text x="\d+" y="[\d.]+" text-anchor="end">([^<]*)<\/text>/g)].map((m) => m[1]!);

describe('chart axes in display units, on round ticks', () => {
  it('a treasury around $15.5M: round ticks in millions, not $15,533,167', () => {
    const values = [15_533_167, 15_912_004, 16_220_731, 15_401_870];
    const dates = values.map((_, i) => `2022-01-0${i + 1}`);
    const svg = lineChart('value', dates, [{ name: 'agent', values, color: '#000' }], usdTick);
    const labels = tickLabels(svg);
    expect(labels).toEqual(['$15.4M', '$15.6M', '$15.8M', '$16.0M', '$16.2M', '$16.4M']);
    expect(svg).not.toMatch(/\$\d{1,3},\d{3},\d{3}/);
  });

  it('drawdowns and runways: percentages and numbers with the digits their step needs', () => {
    const dd = lineChart(
      'dd',
      ['a', 'b', 'c'],
      [{ name: 'x', values: [0, -0.31, -0.55], color: '#000' }],
      percentTick,
      {
        invert: true,
      },
    );
    expect(tickLabels(dd)).toEqual(['−60%', '−40%', '−20%', '0%']);
    const runway = lineChart(
      'r',
      ['a', 'b'],
      [{ name: 'x', values: [11.2, 12.4], color: '#000' }],
      numberTick,
    );
    expect(tickLabels(runway)).toEqual(['11.2', '11.4', '11.6', '11.8', '12.0', '12.2', '12.4']);
  });

  it('labels: one unit per axis, only the decimals the step needs', () => {
    expect(usdTick(15_500_000, { step: 500_000, max: 16_000_000 })).toBe('$15.5M');
    expect(usdTick(15_250_000, { step: 250_000, max: 16_000_000 })).toBe('$15.25M');
    expect(usdTick(500_000, { step: 500_000, max: 1_500_000 })).toBe('$0.5M');
    expect(usdTick(800_000, { step: 200_000, max: 800_000 })).toBe('$800k');
    expect(usdTick(1_250_000_000, { step: 250_000_000, max: 2e9 })).toBe('$1.25B');
    expect(usdTick(-2000, { step: 1000, max: 2000 })).toBe('−$2k');
    expect(usdTick(1.2, { step: 0.1, max: 1.4 })).toBe('$1.2');
    expect(percentTick(0.125, { step: 0.025 })).toBe('12.5%');
    expect(numberTick(1200, { step: 200 })).toBe('1,200');
    expect(decimalsFor(0.25)).toBe(2);
    expect(decimalsFor(5)).toBe(0);
    expect(decimalsFor(0.2)).toBe(1);
  });

  it('property: ticks are distinct labels covering the data, each step a round number', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1, max: 1e10, noNaN: true }),
        fc.double({ min: 0.001, max: 3, noNaN: true }),
        (low, spread) => {
          const high = low * (1 + spread);
          const axis = axisTicks(low, high);
          expect(axis.lo).toBeLessThanOrEqual(low);
          expect(axis.hi).toBeGreaterThanOrEqual(high);
          const mantissa = axis.step / 10 ** Math.floor(Math.log10(axis.step));
          expect([1, 2, 5].some((m) => Math.abs(mantissa - m) < 1e-9)).toBe(true);
          const labels = axis.ticks.map((v) => usdTick(v, axis));
          expect(new Set(labels).size).toBe(labels.length);
          for (const label of labels) expect(label).toMatch(/^−?\$\d+(\.\d+)?[kMB]?$/);
        },
      ),
      { numRuns: 300 },
    );
  });
});
