/**
 * Numbers for people, in en-US style. `Number.prototype.toLocaleString` builds a new `Intl.NumberFormat` on every
 * call (tens of microseconds each); a proposal formats a few hundred figures and a fleet drafts a hundred proposals
 * a tick, so the formatters are built once per set of options and kept (they are immutable).
 */
const formatters = new Map<string, Intl.NumberFormat>();

export function formatNumber(value: number | bigint, options: Intl.NumberFormatOptions = {}): string {
  const key = JSON.stringify(options);
  let formatter = formatters.get(key);
  if (!formatter) {
    formatter = new Intl.NumberFormat('en-US', options);
    formatters.set(key, formatter);
  }
  return formatter.format(value);
}

/** A price for people: 3,450 / 16.20 / 0.0421. */
export function priceText(x: number): string {
  if (x >= 1000) return formatNumber(x, { maximumFractionDigits: 0 });
  if (x >= 1) return formatNumber(x, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return x.toPrecision(3);
}
