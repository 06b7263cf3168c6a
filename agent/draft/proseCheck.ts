import type { Draft, DraftFacts } from './types.ts';

/**
 * The prose check: a draft may only say what the plan says.
 *
 * Rules (applied to the summary, the rationale and every risk):
 * 1. Forbidden outright: `0x…` hex (addresses, calldata, hashes), hex blobs of 16+ digits, opaque strings of
 *    32+ letters/digits (other chains' addresses, keys), URLs and domain names (`https://…`, `www.…`, `….eth`,
 *    `….com`…), function signatures (`transfer(address,uint256)`), and instruction-like text aimed at a reader
 *    or model ("ignore previous instructions", "system prompt", "send all funds"), prompt delimiters
 *    (`</untrusted_data>`), digits other than 0–9 (`１２０`) and invisible or direction-control characters.
 * 2. Tickers: every ALLCAPS word of 2–10 characters that looks like a ticker (`ETH`, `$PEPE`, `WBTC2`), and every
 *    mixed-case one (`stETH`, `cbBTC`, `wstETH`), must be a
 *    token of the plan (allocation, trades, prices, volatility), the unwrapped name of one (`ETH` for `WETH`),
 *    or a word from the trusted text of the facts (strategy description, guardrail names and details).
 *    Common acronyms that are not tickers (USD, UTC, DAO, DEX, TWAP, APY, EIP…) are allowed.
 * 3. Numbers (`1,234.56`, `12.3%`, `$1.2M`, `1.2k`, `150 bps`, `14.2 months`, `0.65`) must match a figure
 *    derivable from the facts, by kind:
 *    - `$x` / `x USD` → a USD figure: treasury, moved, monthly spend, prices, trade values, allocation values
 *      and their changes;
 *    - `x%`, `x percent`, `x points`, `x pp` → a percentage: allocation before/target/after and their
 *      differences, share of the treasury moved, volatility, price impact, slippage tolerance of each trade,
 *      runway change, and percentages in the guardrail details; `x bps` → the same figures in basis points;
 *    - `x months` → runway before/after, its change, or a number in the guardrail details;
 *    - `x TOKEN` → an amount of that token in a trade (amount in, minimum out, expected out), its USD figures
 *      for a stablecoin (price within 2% of $1), or exactly 1 (a unit price: "1 WETH = $3,000");
 *    - a plain number → any of the above, a fraction as given (volatility 0.65), a count (trades, tokens,
 *      guardrails), or a number in the trusted text.
 *    A match is within the precision the number is written with (half a unit of its last digit, × k/M/B),
 *    or 0.1% of the figure, whichever is larger; signs are ignored ("−15 points" is a change of 15).
 *    Small whole numbers 0–10 without a $/%/bps/months/token unit are allowed as counts ("3 days", "2 swaps");
 *    numbers in words ("two swaps") are not checked.
 * 4. Dates: an ISO date or timestamp (`2022-05-12`, `2022-05-12T00:00:00Z`) or a written one (`May 12, 2022`)
 *    must be the date of `asOf` or of a price update; a bare year must be between 2009 and the year of `asOf`.
 *    Clock times (`12:00`, `12:00 UTC`) are allowed.
 */
export type ProseCheckResult = { ok: true } | { ok: false; problems: string[] };

const COMMON_ACRONYMS = new Set(
  (
    'USD UTC GMT DAO AI LLM DEX CEX AMM TWAP VWAP APY APR ETF NAV ID KPI TVL OTC MEV ROI ATH ATL YTD MTD QTD YOY ' +
    'API JSON UI FAQ TL DR TLDR NB PS EIP ERC EOA RPC TX BPS BP PP CPI FOMC AUM PNL VAR CVAR ISO EMA SMA RSI MACD ' +
    'ERC20 OK US USA EU UK Q1 Q2 Q3 Q4 H1 H2 FY NOTE'
  ).split(' '),
);

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

type Figures = {
  usd: number[];
  pct: number[];
  months: number[];
  amounts: Map<string, number[]>;
  generic: number[];
  dates: Set<string>;
  maxYear: number;
  tokens: Set<string>;
  words: Set<string>;
  verbatim: string[];
};

type Span = { start: number; end: number };

/** Parses a human number as the facts write it ("12,500.5", "1.2345"); undefined when it is not one. */
export function parseHumanNumber(text: string): number | undefined {
  const cleaned = text.trim().replace(/,/g, '');
  if (!/^-?\d+(\.\d+)?$/.test(cleaned)) return undefined;
  const value = Number(cleaned);
  return Number.isFinite(value) ? value : undefined;
}

const finite = (values: number[]) => values.filter((v) => Number.isFinite(v)).map((v) => Math.abs(v));

function numbersInText(text: string): number[] {
  const withoutHex = text.replace(/0x[0-9a-fA-F]+/g, ' ');
  return [...withoutHex.matchAll(/\d[\d,]*(?:\.\d+)?/g)]
    .map((m) => parseHumanNumber(m[0].replace(/,$/, '')))
    .filter((v): v is number => v !== undefined);
}

function capsWordsInText(text: string): string[] {
  const withoutHex = text.replace(/0x[0-9a-fA-F]+/g, ' ');
  return [...withoutHex.matchAll(/\b[A-Z][A-Z0-9]{1,9}\b/g)].map((m) => m[0]);
}

function isoDate(value: number): string | undefined {
  const ms = value < 1e11 ? value * 1000 : value;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString().slice(0, 10);
}

/** Every figure a draft may mention, derived from the facts (trusted fields only: never `untrusted`). */
function figuresFromFacts(facts: DraftFacts): Figures {
  const priceOf = new Map(facts.prices.map((p) => [p.symbol, p.usd]));
  const stable = (symbol: string) => {
    const price = priceOf.get(symbol);
    return price !== undefined && Math.abs(price - 1) <= 0.02;
  };
  const tokens = new Set<string>([
    ...facts.allocation.map((a) => a.symbol),
    ...facts.trades.flatMap((t) => [t.sell, t.buy]),
    ...facts.prices.map((p) => p.symbol),
    ...Object.keys(facts.volatility),
  ]);

  const usd: number[] = [
    facts.treasuryUsd,
    facts.movedUsd,
    facts.monthlySpendUsd,
    ...facts.prices.map((p) => p.usd),
  ];
  const pct: number[] = [];
  const amounts = new Map<string, number[]>();
  const addAmount = (symbol: string, value: number | undefined) => {
    if (value === undefined) return;
    amounts.set(symbol, [...(amounts.get(symbol) ?? []), value]);
  };

  for (const a of facts.allocation) {
    const bps = [a.beforeBps, a.targetBps, a.afterBps];
    const diffs = [a.targetBps - a.beforeBps, a.afterBps - a.beforeBps, a.targetBps - a.afterBps];
    for (const b of [...bps, ...diffs]) {
      pct.push(b / 100);
      usd.push((b / 10_000) * facts.treasuryUsd);
    }
  }
  if (facts.treasuryUsd > 0) pct.push((facts.movedUsd / facts.treasuryUsd) * 100);

  for (const t of facts.trades) {
    const amountIn = parseHumanNumber(t.amountIn);
    const minOut = parseHumanNumber(t.minOut);
    const expectedOut = parseHumanNumber(t.expectedOut);
    addAmount(t.sell, amountIn);
    addAmount(t.buy, minOut);
    addAmount(t.buy, expectedOut);
    const sellPrice = priceOf.get(t.sell);
    const buyPrice = priceOf.get(t.buy);
    if (amountIn !== undefined && sellPrice !== undefined) usd.push(amountIn * sellPrice);
    if (minOut !== undefined && buyPrice !== undefined) usd.push(minOut * buyPrice);
    if (expectedOut !== undefined && buyPrice !== undefined) usd.push(expectedOut * buyPrice);
    pct.push(t.priceImpactBps / 100);
    if (minOut !== undefined && expectedOut !== undefined && expectedOut > 0) {
      pct.push(((expectedOut - minOut) / expectedOut) * 100);
    }
  }
  for (const [, v] of Object.entries(facts.volatility)) pct.push(v * 100);

  const months = [
    facts.runwayMonthsBefore,
    facts.runwayMonthsAfter,
    facts.runwayMonthsAfter - facts.runwayMonthsBefore,
  ];
  if (facts.runwayMonthsBefore > 0 && Number.isFinite(facts.runwayMonthsBefore)) {
    pct.push(((facts.runwayMonthsAfter - facts.runwayMonthsBefore) / facts.runwayMonthsBefore) * 100);
  }

  const trustedText = [facts.strategy, ...facts.guardrails.flatMap((g) => [g.name, g.detail])].join('\n');
  const trustedNumbers = numbersInText(trustedText);
  pct.push(...trustedNumbers);
  months.push(...trustedNumbers);
  usd.push(...trustedNumbers);

  for (const symbol of tokens) {
    if (stable(symbol)) for (const v of usd) addAmount(symbol, v);
    addAmount(symbol, 1);
  }

  const dates = new Set<string>();
  const asOfDate = /^\d{4}-\d{2}-\d{2}/.exec(facts.asOf)?.[0];
  if (asOfDate) dates.add(asOfDate);
  for (const p of facts.prices) {
    const d = isoDate(p.updatedAt);
    if (d) dates.add(d);
  }
  const asOfYear = asOfDate ? Number(asOfDate.slice(0, 4)) : new Date(facts.asOf).getUTCFullYear();

  const counts = [facts.trades.length, facts.allocation.length, facts.guardrails.length, tokens.size];
  const generic = [
    ...usd,
    ...pct,
    ...pct.map((p) => p * 100),
    ...months,
    ...[...amounts.values()].flat(),
    ...Object.values(facts.volatility),
    ...counts,
  ];

  return {
    usd: finite(usd),
    pct: finite(pct),
    months: finite(months),
    amounts: new Map([...amounts].map(([k, v]) => [k, finite(v)])),
    generic: finite(generic),
    dates,
    maxYear: Number.isFinite(asOfYear) ? asOfYear : 0,
    tokens,
    words: new Set(capsWordsInText(trustedText)),
    verbatim: [facts.strategy, ...facts.guardrails.map((g) => g.name)].filter((s) => s.length >= 4),
  };
}

/** The symbol a prose ticker refers to, or undefined when it is not a token of the plan. */
function planToken(word: string, figures: Figures): string | undefined {
  if (figures.tokens.has(word)) return word;
  // ETH for WETH, BTC for WBTC.
  if (figures.tokens.has(`W${word}`)) return `W${word}`;
  return undefined;
}

function within(value: number, unit: number, figure: number): boolean {
  const diff = Math.abs(value - figure);
  return diff <= unit / 2 + 1e-9 * Math.max(1, figure) || diff <= 0.001 * figure;
}

const matchesAny = (value: number, unit: number, candidates: number[]) =>
  candidates.some((c) => within(value, unit, c));

const FORBIDDEN: { pattern: RegExp; what: string }[] = [
  { pattern: /(?<!\d)0x[0-9a-fA-F]+/g, what: 'an address or hex data' },
  {
    pattern: /(?<![\w.])(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{16,}(?!\w)/g,
    what: 'a hex blob',
  },
  { pattern: /(?<!\w)[A-Za-z0-9]{32,}(?!\w)/g, what: 'an opaque string (address or key)' },
  { pattern: /\b(?:https?|ipfs|ipns|ftp|data|javascript):\/?\/?[^\s)]*/gi, what: 'a URL' },
  { pattern: /\bwww\.[^\s)]+/gi, what: 'a URL' },
  {
    pattern:
      /\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|io|org|net|xyz|finance|app|eth|co|gg|ai|fi|exchange|money|link|dev|me|info|biz|ly|to|sh)\b/gi,
    what: 'a domain name',
  },
  {
    pattern: /\b[A-Za-z_]\w*\(\s*(?:address|uint\d*|int\d*|bytes\d*|bool|string)\b[^)]*\)?/g,
    what: 'a function signature (calldata)',
  },
  {
    pattern:
      /\b(?:ignore|disregard|forget|override)\b[^.\n]{0,40}\b(?:instructions?|rules|prompts?|guidelines|directions)\b/gi,
    what: 'instruction-like text',
  },
  { pattern: /\bsystem\s+prompt\b/gi, what: 'instruction-like text' },
  {
    pattern:
      /\b(?:send|transfer|move|withdraw)\s+(?:all|every|the entire)\b[^.\n]{0,30}\b(?:funds|assets|tokens|treasury)\b/gi,
    what: 'instruction-like text',
  },
  { pattern: /[^\P{Nd}0-9]/gu, what: 'a non-ASCII digit' },
  {
    pattern: /[\u200B-\u200F\u202A-\u202E\u2060-\u2069\uFEFF]/g,
    what: 'an invisible or direction-control character',
  },
  {
    pattern: /<\/?\s*(?:untrusted_data|system|instructions?|assistant|user)\b[^>]*>/gi,
    what: 'a prompt delimiter',
  },
];

const ISO_DATE =
  /\b(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?(?!\d)/g;
const WRITTEN_DATE =
  /\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?\b/g;
const DAY_FIRST_DATE =
  /\b(\d{1,2})(?:st|nd|rd|th)?\s+(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?(?:,?\s+(\d{4}))?\b/g;
const CLOCK_TIME = /\b\d{1,2}:\d{2}(?::\d{2})?(?:\s?(?:UTC|GMT|Z))?\b/g;
const TICKER = /(?<![\w$])\$?([A-Z][A-Z0-9]{1,9}|[a-z]{1,3}[A-Z][A-Z0-9]{1,7})(?![a-z0-9_])/g;
const NUMBER =
  /(?<![A-Z0-9_.]|[A-Za-z]-)(\$\s?)?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?:(k|K|M|m|bn|B)\b|\s(thousand|million|billion)\b)?/g;

const MULTIPLIER: Record<string, number> = {
  k: 1e3,
  K: 1e3,
  thousand: 1e3,
  m: 1e6,
  M: 1e6,
  million: 1e6,
  bn: 1e9,
  B: 1e9,
  billion: 1e9,
};

function blank(text: string, spans: Span[]): string {
  let out = text;
  for (const { start, end } of spans) out = out.slice(0, start) + ' '.repeat(end - start) + out.slice(end);
  return out;
}

const shorten = (s: string) => (s.length > 24 ? `${s.slice(0, 21)}…` : s);

function dateMatches(figures: Figures, month: number, day: number, year: number | undefined): boolean {
  const mm = String(month).padStart(2, '0');
  const dd = String(day).padStart(2, '0');
  return [...figures.dates].some(
    (d) => d.slice(5) === `${mm}-${dd}` && (year === undefined || d.startsWith(`${year}-`)),
  );
}

function checkText(text: string, where: string, figures: Figures, problems: string[]): void {
  let rest = text;
  for (const v of figures.verbatim) rest = rest.split(v).join(' '.repeat(v.length));

  // 1. Forbidden content.
  const forbidden: Span[] = [];
  for (const { pattern, what } of FORBIDDEN) {
    for (const m of rest.matchAll(pattern)) {
      problems.push(`${where} contains ${what}: "${shorten(m[0])}"`);
      forbidden.push({ start: m.index, end: m.index + m[0].length });
    }
  }
  rest = blank(rest, forbidden);

  // 4. Dates and times first, so their digits are not read as amounts.
  const dated: Span[] = [];
  for (const m of rest.matchAll(ISO_DATE)) {
    const date = `${m[1]}-${m[2]}-${m[3]}`;
    if (!figures.dates.has(date)) problems.push(`${where} mentions the date ${date}, not in the facts`);
    dated.push({ start: m.index, end: m.index + m[0].length });
  }
  rest = blank(rest, dated);
  const written: Span[] = [];
  for (const [pattern, monthAt, dayAt] of [
    [WRITTEN_DATE, 1, 2],
    [DAY_FIRST_DATE, 2, 1],
  ] as const) {
    for (const m of rest.matchAll(pattern)) {
      const month = MONTHS.indexOf((m[monthAt] ?? '').toLowerCase()) + 1;
      const day = Number(m[dayAt]);
      const year = m[3] === undefined ? undefined : Number(m[3]);
      if (!dateMatches(figures, month, day, year))
        problems.push(`${where} mentions the date "${m[0]}", not in the facts`);
      written.push({ start: m.index, end: m.index + m[0].length });
    }
    rest = blank(rest, written);
  }
  rest = blank(
    rest,
    [...rest.matchAll(CLOCK_TIME)].map((m) => ({ start: m.index, end: m.index + m[0].length })),
  );

  // 2. Tickers.
  for (const m of rest.matchAll(TICKER)) {
    const word = m[1] ?? '';
    if (planToken(word, figures) || figures.words.has(word) || COMMON_ACRONYMS.has(word)) continue;
    if (/^\d/.test(word)) continue;
    problems.push(`${where} mentions ${m[0]}, not a token of the plan`);
  }

  // 3. Numbers (".5%" is read as "0.5%"; digits glued to lowercase letters, "x120,000", are read too).
  rest = rest.replace(/(?<![\w.])\.(?=\d)/g, '0.');
  for (const m of rest.matchAll(NUMBER)) {
    const [whole, dollar, intPart = '', fraction = '', suffix, word] = m;
    const multiplier = MULTIPLIER[suffix ?? word ?? ''] ?? 1;
    const value = Number(intPart.replace(/,/g, '') + fraction) * multiplier;
    const decimals = fraction ? fraction.length - 1 : 0;
    const unit = 10 ** -decimals * multiplier;
    const after = rest.slice(m.index + whole.length);
    const before = rest.slice(Math.max(0, m.index - 4), m.index);
    const shown = whole.trim();
    const isYear = !dollar && !fraction && !suffix && !word && /^\d{4}$/.test(intPart);

    const tokenWord = /^\s?\$?([A-Z][A-Z0-9]{1,9})(?![a-z0-9_])/.exec(after)?.[1];
    const symbol = tokenWord === undefined ? undefined : planToken(tokenWord, figures);
    if (dollar || /USD\s?$/.test(before) || /^\s?(?:USD|dollars?)\b/.test(after)) {
      if (!matchesAny(value, unit, figures.usd))
        problems.push(`${where} mentions $${shown.replace(/^\$\s?/, '')}, not a USD figure of the plan`);
    } else if (/^\s?(?:%|percent\b|percentage points?\b|pp\b|points?\b)/i.test(after)) {
      if (!matchesAny(value, unit, figures.pct))
        problems.push(`${where} mentions ${shown}%, not a percentage of the plan`);
    } else if (/^\s?(?:bps|bp|basis points?)\b/i.test(after)) {
      if (!matchesAny(value / 100, unit / 100, figures.pct))
        problems.push(`${where} mentions ${shown} bps, not a figure of the plan`);
    } else if (/^\s?months?\b/i.test(after)) {
      if (!matchesAny(value, unit, figures.months))
        problems.push(`${where} mentions ${shown} months, not a runway figure of the plan`);
    } else if (symbol) {
      const candidates = figures.amounts.get(symbol) ?? [];
      if (!matchesAny(value, unit, candidates)) {
        problems.push(`${where} mentions ${shown} ${tokenWord}, not an amount of ${symbol} in the plan`);
      }
    } else if (isYear && value >= 2009 && value <= figures.maxYear) {
      // A year, up to the year of the facts.
    } else if (!fraction && multiplier === 1 && value <= 10) {
      // A small count ("3 days", "2 swaps").
    } else if (!matchesAny(value, unit, figures.generic)) {
      problems.push(`${where} mentions ${shown}, not a figure of the plan`);
    }
  }
}

/**
 * Checks every number, ticker, address, URL and date in a draft's prose against the facts (rules above).
 * Pure: the same draft and facts always give the same answer.
 */
export function checkDraftAgainstFacts(draft: Draft, facts: DraftFacts): ProseCheckResult {
  const figures = figuresFromFacts(facts);
  const problems: string[] = [];
  checkText(draft.summary, 'summary', figures, problems);
  checkText(draft.rationale, 'rationale', figures, problems);
  draft.risks.forEach((risk, i) => {
    checkText(risk, `risk ${i + 1}`, figures, problems);
  });
  return problems.length ? { ok: false, problems } : { ok: true };
}
