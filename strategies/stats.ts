/** Daily statistics over close-price windows. Annualised with 365 days (crypto trades every day). */

export const DAYS_PER_YEAR = 365;

/** Simple daily returns of a close series (length n → n − 1). */
export function dailyReturns(closes: ArrayLike<number>): Float64Array {
  const out = new Float64Array(Math.max(0, closes.length - 1));
  for (let k = 1; k < closes.length; k++) out[k - 1] = closes[k]! / closes[k - 1]! - 1;
  return out;
}

/** Sample covariance matrix (n − 1) of daily returns, annualised. Rows are assets. */
export function covarianceMatrix(returns: readonly Float64Array[]): number[][] {
  const n = returns.length;
  const len = returns[0]?.length ?? 0;
  const means = returns.map((r) => {
    let s = 0;
    for (let k = 0; k < len; k++) s += r[k]!;
    return len > 0 ? s / len : 0;
  });
  const cov: number[][] = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    const ri = returns[i]!;
    const mi = means[i]!;
    for (let j = i; j < n; j++) {
      const rj = returns[j]!;
      const mj = means[j]!;
      let s = 0;
      for (let k = 0; k < len; k++) s += (ri[k]! - mi) * (rj[k]! - mj);
      const v = len > 1 ? (s / (len - 1)) * DAYS_PER_YEAR : 0;
      cov[i]![j] = v;
      cov[j]![i] = v;
    }
  }
  return cov;
}

/** Annualised volatility of a close series. */
export function annualisedVolatility(closes: ArrayLike<number>): number {
  const r = dailyReturns(closes);
  return Math.sqrt(covarianceMatrix([r])[0]![0]!);
}
