/**
 * Compiles the project's own contracts (TestToken, PriceFeed, PolicySwapper) with solc-js and writes
 * contracts/solidity/build/<Name>.json ({ contractName, abi, bytecode, compiler }). The JSON is committed,
 * so nothing compiles at install or test time; run `npm run compile:contracts` after editing a .sol file.
 * A test checks that the committed JSON matches a fresh compile of the sources.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SOLIDITY_DIR = dirname(fileURLToPath(import.meta.url));
export const SOURCES = ['TestToken.sol', 'PriceFeed.sol', 'PolicySwapper.sol'];
/** solc 0.8.37 defaults to osaka; anvil's default hardfork is older. Pin it. */
export const EVM_VERSION = 'cancun';

export type CompiledContract = {
  contractName: string;
  abi: unknown[];
  bytecode: `0x${string}`;
  compiler: string;
};

export async function compileContracts(): Promise<CompiledContract[]> {
  const { default: solc } = (await import('solc')) as unknown as {
    default: { compile: (input: string) => string; version: () => string };
  };
  const sources = Object.fromEntries(
    SOURCES.map((file) => [file, { content: readFileSync(join(SOLIDITY_DIR, file), 'utf8') }]),
  );
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      evmVersion: EVM_VERSION,
      optimizer: { enabled: true, runs: 200 },
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as {
    errors?: { severity: string; formattedMessage: string }[];
    contracts: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>>;
  };
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length) throw new Error(errors.map((e) => e.formattedMessage).join('\n'));
  const compiled: CompiledContract[] = [];
  for (const file of SOURCES) {
    for (const [contractName, contract] of Object.entries(output.contracts[file] ?? {})) {
      // Interfaces declared beside a contract have no code: nothing to deploy, nothing to write.
      if (contract.evm.bytecode.object === '') continue;
      compiled.push({
        contractName,
        abi: contract.abi,
        bytecode: `0x${contract.evm.bytecode.object}`,
        compiler: `solc ${solc.version()} evm=${EVM_VERSION} optimizer=200`,
      });
    }
  }
  return compiled;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const contract of await compileContracts()) {
    const path = join(SOLIDITY_DIR, 'build', `${contract.contractName}.json`);
    writeFileSync(path, `${JSON.stringify(contract, null, 1)}\n`);
    console.log(`wrote ${path} (${(contract.bytecode.length - 2) / 2} bytes of init code)`);
  }
}
