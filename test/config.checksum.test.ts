import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { getAddress } from 'viem';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { addressProblem } from '../config/addressSchema.ts';
import { parseConfig } from '../config/loadConfig.ts';
import { HubError } from '../governance/errors.ts';
import { loadSpacesFile, parseSpaces } from '../governance/hub/spaces.ts';
import { ConfigError } from '../shared/errors.ts';

const root = join(import.meta.dirname, '..');
const mainnet = readFileSync(join(root, 'config/examples/mainnet.yaml'), 'utf8');
const spacesExample = readFileSync(join(root, 'governance/hub/examples/spaces.yaml'), 'utf8');

/** The same address with the case of its first letter flipped: a valid-looking, wrongly checksummed address. */
function mistyped(address: string): string {
  const i = [...address].findIndex((c, j) => j > 1 && /[a-fA-F]/.test(c));
  const c = address[i]!;
  return (
    address.slice(0, i) + (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) + address.slice(i + 1)
  );
}

function problems(text: string): string[] {
  try {
    parseConfig(text, 'mainnet.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).details;
  }
  throw new Error('expected the config to be rejected');
}

const checksumLine = (address: string, path: string) =>
  `✖ bad EIP-55 checksum: the mixed-case letters do not match, so the address is probably mistyped; copy it again from its source (if the 40 hex digits are right, the checksummed form is ${getAddress(address)}) → at ${path}`;

describe('config addresses: EIP-55 checksums', () => {
  it('refuses a wrong checksum in every address field, naming the path and the checksummed form', () => {
    const raw = parse(mainnet);
    const weth = raw.tokens[1].address as string;
    const usdcFeed = raw.tokens[3].feed as string;
    const routerAddress = raw.router as string;
    raw.tokens[1].address = mistyped(weth);
    raw.tokens[3].feed = mistyped(usdcFeed);
    raw.router = mistyped(routerAddress);
    // The placeholders are all digits (no checksum); give the Safe fields letters to get them wrong.
    const owner = '0x52908400098527886E0F7030069857D2E4169EE7'; // EIP-55's own test vector
    raw.safe.owners[1] = mistyped(owner);
    raw.safe.contracts = Object.fromEntries(
      [
        'safeSingleton',
        'safeProxyFactory',
        'multiSend',
        'multiSendCallOnly',
        'fallbackHandler',
        'signMessageLib',
        'createCall',
        'simulateTxAccessor',
      ].map((name) => [name, name === 'multiSend' ? mistyped(owner) : owner]),
    );
    raw.execution.policySwapper = mistyped('0xde709f2102306220921060314715629080e2fb77');
    expect(problems(stringify(raw))).toEqual([
      checksumLine(owner, 'safe.owners[1]'),
      checksumLine(owner, 'safe.contracts.multiSend'),
      checksumLine(weth, 'tokens[1].address'),
      checksumLine(usdcFeed, 'tokens[3].feed'),
      checksumLine('0xde709f2102306220921060314715629080e2fb77', 'execution.policySwapper'),
      checksumLine(routerAddress, 'router'),
    ]);
  });

  it('accepts all-lowercase and all-uppercase hex and normalises both to the checksummed form', () => {
    const raw = parse(mainnet);
    raw.tokens[1].address = raw.tokens[1].address.toLowerCase();
    raw.tokens[1].feed = `0x${raw.tokens[1].feed.slice(2).toUpperCase()}`;
    raw.router = raw.router.toLowerCase();
    const config = parseConfig(stringify(raw));
    expect(config.tokens[1]?.address).toBe('0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2');
    expect(config.tokens[1]?.feed).toBe('0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419');
    expect(config.router).toBe('0x7a250d5630B4cF539739dF2C5dAcb4c659F2488D');
  });

  it('does not repeat a checksum problem as "the agent must be an owner"', () => {
    const raw = parse(mainnet);
    const agent = '0x52908400098527886E0F7030069857D2E4169EE7';
    raw.safe.agent = mistyped(agent);
    raw.safe.owners[0] = agent;
    expect(problems(stringify(raw))).toEqual([checksumLine(agent, 'safe.agent')]);
  });

  it('reports the other problems of the file too', () => {
    const raw = parse(mainnet);
    raw.router = mistyped(raw.router);
    raw.guardrails.allowlist.push('XYZ');
    expect(problems(stringify(raw))).toEqual([
      checksumLine(raw.router, 'router'),
      '✖ unknown token XYZ (configured: GOV, WETH, WBTC, USDC, DAI) → at guardrails.allowlist[5]',
    ]);
  });

  it('still refuses what is not an address at all', () => {
    const raw = parse(mainnet);
    raw.router = '0X7A250D5630B4CF539739DF2C5DACB4C659F2488D';
    raw.safe.owners[2] = '0x1234';
    expect(problems(stringify(raw))).toEqual([
      '✖ not an EVM address (0x + 40 hex digits) → at safe.owners[2]',
      '✖ not an EVM address (0x + 40 hex digits) → at router',
    ]);
  });

  it('property: a mixed-case address passes exactly when it is its own EIP-55 form', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.array(fc.boolean()), (bytes, flips) => {
        const lower = `0x${Buffer.from(bytes).toString('hex')}`;
        const written = `0x${[...lower.slice(2)].map((c, i) => (flips[i] ? c.toUpperCase() : c)).join('')}`;
        const hex = written.slice(2);
        const noChecksum = hex === hex.toLowerCase() || hex === hex.toUpperCase();
        expect(addressProblem(written) === undefined).toBe(noChecksum || written === getAddress(lower));
      }),
    );
  });
});

describe("the hub's spaces file: the same rule", () => {
  it('refuses a wrong checksum in admins and in a strategy token, naming the path', () => {
    const raw = parse(spacesExample);
    const admin = raw.spaces[0].admins[0] as string;
    raw.spaces[0].admins[0] = mistyped(admin);
    raw.spaces[0].strategies[0].params.address = mistyped(raw.spaces[0].strategies[0].params.address);
    let error: unknown;
    try {
      parseSpaces(raw, 'spaces.yaml');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(HubError);
    const text = (error as HubError).message;
    expect(text).toMatch(
      /^invalid spaces in spaces\.yaml: bad EIP-55 checksum: .* at spaces\.0\.admins\.0 \(\+1 more\)/,
    );
    expect(text).toContain(`the checksummed form is ${getAddress(admin)}`);
    expect(text).toMatch(/bad EIP-55 checksum: .* at spaces\.0\.strategies\.0\.params\.address$/m);
  });

  it('says what a spaces file holds when it is empty or a single value', () => {
    for (const value of [null, undefined, 'treasury.eth', 7]) {
      expect(() => parseSpaces(value, 'spaces.yaml')).toThrow(
        /^invalid spaces in spaces\.yaml: it holds (nothing|a single (string|number)), not a list of spaces or a mapping with "spaces:" → start from governance\/hub\/examples\/spaces\.yaml/,
      );
    }
  });

  it('refuses a spaces file far larger than any', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'treasury-spaces-'));
    const path = join(dir, 'spaces.yaml');
    await writeFile(path, `# ${'x'.repeat(300_000)}\n${spacesExample}`);
    await expect(loadSpacesFile(path)).rejects.toThrow(
      /is 30\d,\d{3} characters long → a spaces file is a few kilobytes/,
    );
  });

  it('accepts lowercase addresses and normalises them', () => {
    const raw = parse(spacesExample);
    raw.spaces[0].admins[0] = raw.spaces[0].admins[0].toLowerCase();
    expect(parseSpaces(raw)[0]?.admins[0]).toBe('0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266');
  });
});
