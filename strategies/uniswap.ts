/** Uniswap V2 constant-product math in bigint, exactly as UniswapV2Library (0.3% fee: 997/1000). */

export type PoolReserves = { reserveToken: bigint; reserveUsdc: bigint };

/** UniswapV2Library.getAmountOut. */
export function getAmountOut(amountIn: bigint, reserveIn: bigint, reserveOut: bigint): bigint {
  if (amountIn <= 0n || reserveIn <= 0n || reserveOut <= 0n) return 0n;
  const amountInWithFee = amountIn * 997n;
  return (amountInWithFee * reserveOut) / (reserveIn * 1000n + amountInWithFee);
}

/**
 * Price impact of a swap in basis points, fee excluded: how much worse than the pool's spot price (after fee)
 * the execution price is. For V2 this is 997·a / (1000·rIn + 997·a), rounded down.
 */
export function priceImpactBps(amountIn: bigint, reserveIn: bigint): number {
  if (amountIn <= 0n || reserveIn <= 0n) return 0;
  return Number((997n * amountIn * 10_000n) / (1000n * reserveIn + 997n * amountIn));
}

/** The largest amountIn whose price impact stays within impactBps (inverse of priceImpactBps). */
export function maxAmountInForImpact(reserveIn: bigint, impactBps: number): bigint {
  if (impactBps >= 10_000) return reserveIn * 1_000_000n;
  const i = BigInt(Math.max(0, Math.floor(impactBps)));
  return (1000n * reserveIn * i) / (997n * (10_000n - i));
}

/** Pool reserves for a token priced `priceUsd` with `depthUsd` of USDC on each side (USDC priced usdcUsd). */
export function poolAtPrice(
  priceUsd: number,
  depthUsd: number,
  tokenDecimals: number,
  usdcDecimals = 6,
  usdcUsd = 1,
): PoolReserves {
  const tokenUnits = depthUsd / priceUsd;
  const usdcUnits = depthUsd / usdcUsd;
  const tokenExact = Math.min(tokenDecimals, 15);
  return {
    reserveToken:
      BigInt(Math.floor(tokenUnits * 10 ** tokenExact)) * (POW10[tokenDecimals - tokenExact] ?? 1n),
    reserveUsdc: BigInt(Math.floor(usdcUnits * 10 ** usdcDecimals)),
  };
}

const POW10: bigint[] = Array.from({ length: 40 }, (_, k) => 10n ** BigInt(k));

/** UniswapV2Library.getAmountIn: the input needed for `amountOut` (undefined if the pool cannot pay it). */
export function getAmountIn(amountOut: bigint, reserveIn: bigint, reserveOut: bigint): bigint | undefined {
  if (amountOut <= 0n) return 0n;
  if (reserveIn <= 0n || amountOut >= reserveOut) return undefined;
  return (reserveIn * amountOut * 1000n) / ((reserveOut - amountOut) * 997n) + 1n;
}
