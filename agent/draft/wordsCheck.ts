import { PLACEHOLDER, type Placeholder } from './placeholders.ts';
import type { Draft } from './types.ts';

/**
 * The words check: an allow-list for the writer's own words. A draft is a template; figures and tokens enter only
 * through placeholders (placeholders.ts), so the words around them must carry none. Applied to the summary, the
 * rationale and every risk, before the placeholders are filled:
 *
 * 1. Placeholders: every `{…}` names a placeholder of these facts (`{treasuryUSD}`, `{ treasuryUsd }`,
 *    `{{treasuryUsd}}` are refused); a stray `{` or `}` is refused; a placeholder may not touch a letter or a digit
 *    (`x{tradeCount}`), nor another placeholder with only punctuation between them (`{tradeCount}.{tradeCount}`
 *    would write a new number); at most PLACEHOLDER_LIMITS per field.
 * 2. Characters: what is left must be letters of the Latin script (ASCII and Latin-1: A–Z, a–z, À–ÿ without × ÷),
 *    the space, a line break, and . , ; : ' " ( ) ? - – — ‘ ’ “ ”. Nothing else: no digit of any script, no letter
 *    of another script (a Cyrillic "ЕТН" is refused, not read), no invisible, control or direction character, no
 *    `# * _ [ ] < > ! | \` ~ & @ $ % + = / { }`.
 * 3. Shapes: no dot inside a word followed by two letters (`evil.com`, `vitalik.eth`), no colon glued to a word
 *    (`ipfs:`, `javascript:`).
 * 4. Words: none with two capitals or more (tickers and acronyms: `ETH`, `stETH`, `USD`); no token of the plan or
 *    well-known asset named in words (`weth`, `ether`, `bitcoin`), case-insensitive; no number in words in any
 *    form (`forty`, `FORTY`, `fortytwo`, `hundreds`, `tenth`, `half`, `dozen`, `percent`; a few other languages'
 *    too: `vierzig`, `cuarenta`, `prozent`); no URL parts (`www`, `https`, `mailto`, `dot com`); no run of
 *    words made only of the letters a–f totalling eight letters or more (`dead beef`, `de ad be ef`: hex in words).
 * 5. Text aimed at a reader or a model: no second person (`you`, `your`: the draft speaks about the plan, to
 *    voters, in the third person), no `prompt`/`instructions`/`assistant`, no "ignore/disregard/set aside …
 *    previous/rules/instructions", no "send/move/withdraw … all/everything/entire".
 *
 * 1–3 hold by construction: what passes cannot carry a figure, an address, a link or markup. 4 and 5 are word
 * lists and catch the usual forms; the renderer (governance/proposalBody.ts `plainText`) keeps any text inert
 * as markdown whatever passes here.
 */
export type WordsCheckResult = { ok: true } | { ok: false; problems: string[] };

/** Most placeholders per field: bounds how far filling can grow a text. */
export const PLACEHOLDER_LIMITS = { summary: 16, rationale: 60, risk: 8 } as const;

const ALLOWED =
  /[A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u00FF \n.,;:'"()?\-\u2013\u2014\u2018\u2019\u201C\u201D]/u;

const NUMBER_BASES = (
  'zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen ' +
  'seventeen eighteen nineteen twenty thirty forty fourty fifty sixty seventy eighty ninety hundred thousand ' +
  'million billion trillion quadrillion zillion gazillion'
).split(' ');

const NUMBER_WORDS = new Set(
  // fractions, ordinals that are fractions, multiples, units of figures
  (
    'first second third thirds fifth fifths eighth eighths ninth ninths twelfth twelfths twentieth thirtieth ' +
    'fortieth fiftieth sixtieth seventieth eightieth ninetieth hundredth hundredths thousandth thousandths ' +
    'millionth billionth half halves halved halving quarter quarters quartered dozen dozens double doubled ' +
    'doubles doubling triple tripled triples tripling quadruple quadrupled twice thrice nil nought naught ' +
    'percent percents percentage percentages pct bps permille promille ' +
    // other languages (words that are not also common English)
    'uno cuatro cinco siete ocho nueve diez once doce veinte treinta cuarenta cincuenta sesenta setenta ' +
    'ochenta noventa cien ciento cientos millon millón millones deux trois quatre cinq huit neuf vingt trente ' +
    'quarante cinquante soixante septante huitante nonante mille milliard eins zwei drei vier fünf funf sechs ' +
    'sieben acht neun zehn zwanzig dreissig dreißig vierzig fünfzig funfzig sechzig siebzig achtzig neunzig ' +
    'hundert tausend prozent quattro cinque sette otto nove dieci venti trenta quaranta sessanta settanta ' +
    'ottanta novanta cento milione milioni percento dois três tres quatro oito dez vinte trinta quarenta ' +
    'sessenta oitenta cem milhão milhao milhões'
  ).split(' '),
);
// "first" and "second" are ordinals, not figures: allowed.
NUMBER_WORDS.delete('first');
NUMBER_WORDS.delete('second');
// "once" (Spanish eleven) is common English.
NUMBER_WORDS.delete('once');

const NUMBER_SUFFIXES = ['ths', 'th', 'fold', 'ish', 's', ''];

/** A word made only of number words, with an optional suffix: `forty`, `fortytwo`, `hundreds`, `tenth`. */
function isNumberWord(word: string): boolean {
  if (NUMBER_WORDS.has(word)) return true;
  if (word === 'ones') return false; // "the larger ones"
  for (const suffix of NUMBER_SUFFIXES) {
    if (!word.endsWith(suffix)) continue;
    const stem = word.slice(0, word.length - suffix.length);
    if (stem && splitsInto(stem, NUMBER_BASES)) return true;
  }
  return false;
}

function splitsInto(stem: string, parts: string[]): boolean {
  const reach = new Array<boolean>(stem.length + 1).fill(false);
  reach[0] = true;
  for (let i = 0; i < stem.length; i++) {
    if (!reach[i]) continue;
    for (const part of parts) if (stem.startsWith(part, i)) reach[i + part.length] = true;
  }
  return reach[stem.length] === true;
}

/** Well-known assets by symbol or name (lowercase); the plan's own symbols are added per check. */
const KNOWN_ASSETS = new Set(
  (
    'eth ether ethereum weth steth wsteth reth cbeth btc bitcoin wbtc cbbtc tbtc usd usdc usdt tether dai ' +
    'usds susd lusd busd tusd pyusd fdusd frax gho eurc euroc sol solana doge dogecoin shib shiba pepe bnb xrp ' +
    'ripple ada cardano matic polygon avax arb ltc litecoin trx tron toncoin aave mkr ldo lido crv cvx'
  ).split(' '),
);

const URL_WORD = /^(?:https?|s?ftp|ipfs|ipns|mailto|javascript|vbscript)$|www/;
const META_WORDS = new Set(
  'you your yours yourself yourselves prompt prompts instruction instructions jailbreak assistant chatbot'.split(
    ' ',
  ),
);

const PHRASES: { pattern: RegExp; what: string }[] = [
  {
    pattern:
      /\b(?:ignore|disregard|forget|override|bypass|set aside)\b.{0,40}\b(?:previous|prior|above|earlier|rules|guidance|guidelines|directions|everything)\b/,
    what: 'instruction-like text',
  },
  {
    pattern:
      /\b(?:send|transfer|move|withdraw|bridge|route|sweep|drain)\b.{0,30}\b(?:all|everything|entire|remaining|whole)\b/,
    what: 'instruction-like text',
  },
  { pattern: /\bsystem (?:message|role)\b|\bas an ai\b/, what: 'instruction-like text' },
  {
    pattern:
      /\bdot (?:com|org|net|io|eth|xyz|app|finance|co|ai|gg|link|me|info|money|exchange|fi|to|sh|ly|dev)\b/,
    what: 'a domain in words',
  },
];

const HEX_WORD = /^[a-f]+$/i;
const HEX_RUN = 8;

const codePoint = (c: string) => `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
const shown = (c: string) => (/^[\x21-\x7E]$/.test(c) ? `"${c}"` : codePoint(c));
const quote = (s: string) => `"${s.length > 24 ? `${s.slice(0, 21)}…` : s}"`;

function describeCharacter(c: string): string {
  if (c === '{' || c === '}') return `a brace outside a placeholder (${shown(c)})`;
  if (/\p{N}/u.test(c)) return `a digit or number (${shown(c)})`;
  if (/\p{L}|\p{M}/u.test(c)) return `a letter outside ASCII and Latin-1 (${codePoint(c)})`;
  if (/[\p{C}\p{Z}\s]/u.test(c)) return `an invisible, control or direction character (${codePoint(c)})`;
  return `the character ${shown(c)}`;
}

type Context = { names: ReadonlySet<string>; tokens: ReadonlySet<string> };

function checkText(text: string, where: string, limit: number, ctx: Context, problems: string[]): void {
  const found = [...text.matchAll(PLACEHOLDER)];
  // 1. Placeholders: known names, standing apart.
  let previousEnd = -1;
  for (const m of found) {
    const name = m[1] ?? '';
    const start = m.index;
    const end = start + m[0].length;
    if (!ctx.names.has(name)) {
      problems.push(
        `${where}: unknown placeholder ${/^[\w.]{1,40}$/.test(name) ? `{${name}}` : `of ${name.length} characters`}`,
      );
    }
    if (/[\p{L}\p{N}]/u.test(text[start - 1] ?? '') || /[\p{L}\p{N}]/u.test(text[end] ?? '')) {
      problems.push(`${where}: a placeholder touches a word (${quote(m[0])})`);
    }
    if (previousEnd >= 0 && !/[\s\p{L}]/u.test(text.slice(previousEnd, start))) {
      problems.push(`${where}: two placeholders run together before ${quote(m[0])}`);
    }
    previousEnd = end;
  }
  if (found.length > limit) problems.push(`${where}: ${found.length} placeholders (at most ${limit})`);

  // 2. Characters, in the words between placeholders.
  const segments = text.split(PLACEHOLDER).filter((_, i) => i % 2 === 0);
  const bad = new Set<string>();
  for (const segment of segments) for (const c of segment) if (!ALLOWED.test(c)) bad.add(c);
  if (bad.size) {
    for (const c of [...bad].slice(0, 3)) problems.push(`${where}: ${describeCharacter(c)}`);
    return; // the words below are quoted in the reason only once they are known to be plain Latin text
  }

  // 3. Shapes, with each placeholder standing in as a word: `{token.GOV}.com` is a domain too.
  const skeleton = text.replace(PLACEHOLDER, 'x');
  for (const m of skeleton.matchAll(/[\p{L}]+\.[\p{L}]{2,}[\p{L}.]*/gu)) {
    problems.push(`${where}: a domain or file name (${quote(m[0])})`);
  }
  for (const m of skeleton.matchAll(/[\p{L}]*:[\p{L}]+/gu)) {
    problems.push(`${where}: a colon inside a word, as in a link (${quote(m[0])})`);
  }

  for (const segment of segments) {
    // 4. Words.
    const words = segment.split(/[^\p{L}]+/u).filter(Boolean);
    let hexRun: string[] = [];
    const flushHex = () => {
      if (hexRun.join('').length >= HEX_RUN) {
        problems.push(`${where}: hex-like letters in a row (${quote(hexRun.join(' '))})`);
      }
      hexRun = [];
    };
    for (const word of words) {
      const lower = word.toLowerCase();
      if ((word.match(/\p{Lu}/gu) ?? []).length >= 2) {
        problems.push(`${where}: a symbol or acronym (${quote(word)}); tokens go in as {token.…}`);
      } else if (ctx.tokens.has(lower) || KNOWN_ASSETS.has(lower)) {
        problems.push(`${where}: a token named in words (${quote(word)}); tokens go in as {token.…}`);
      } else if (isNumberWord(lower)) {
        problems.push(`${where}: a number in words (${quote(word)}); figures go in as placeholders`);
      } else if (URL_WORD.test(lower)) {
        problems.push(`${where}: part of a URL (${quote(word)})`);
      } else if (META_WORDS.has(lower)) {
        problems.push(`${where}: text addressed to a reader or a model (${quote(word)})`);
      }
      if (HEX_WORD.test(word)) hexRun.push(word);
      else flushHex();
    }
    flushHex();

    // 5. Phrases.
    const flat = words.join(' ').toLowerCase();
    for (const { pattern, what } of PHRASES) {
      const m = pattern.exec(flat);
      if (m) problems.push(`${where}: ${what} (${quote(m[0])})`);
    }
  }
}

/** Lowercase names a plan token goes by: its symbol, and without a wrapping W (`eth` for WETH). */
function tokenWords(placeholders: readonly Placeholder[]): Set<string> {
  const words = new Set<string>();
  for (const { name } of placeholders) {
    if (!name.startsWith('token.')) continue;
    const symbol = name.slice('token.'.length).toLowerCase();
    words.add(symbol);
    if (symbol.length >= 4 && symbol.startsWith('w')) words.add(symbol.slice(1));
  }
  return words;
}

/**
 * Checks a draft template's own words (rules above) against the placeholders of its facts. Pure: the same draft
 * and placeholders always give the same answer.
 */
export function checkDraftWords(draft: Draft, placeholders: readonly Placeholder[]): WordsCheckResult {
  const ctx: Context = { names: new Set(placeholders.map((p) => p.name)), tokens: tokenWords(placeholders) };
  const problems: string[] = [];
  checkText(draft.summary, 'summary', PLACEHOLDER_LIMITS.summary, ctx, problems);
  checkText(draft.rationale, 'rationale', PLACEHOLDER_LIMITS.rationale, ctx, problems);
  draft.risks.forEach((risk, i) => {
    checkText(risk, `risk ${i + 1}`, PLACEHOLDER_LIMITS.risk, ctx, problems);
  });
  return problems.length ? { ok: false, problems: [...new Set(problems)] } : { ok: true };
}
