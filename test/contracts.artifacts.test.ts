import type { Abi, AbiEvent, AbiFunction } from 'viem';
import { formatAbiItem } from 'viem/utils';
import { describe, expect, it } from 'vitest';
import { policySwapperAbi } from '../contracts/abis.ts';
import { projectArtifacts } from '../contracts/artifacts.ts';
import { compileContracts } from '../contracts/solidity/compile.ts';

describe('compiled contracts', () => {
  it('the committed build JSON is exactly what the committed sources compile to', async () => {
    const fresh = await compileContracts();
    const byName = Object.fromEntries(fresh.map((c) => [c.contractName, c]));
    expect(byName.TestToken?.bytecode).toBe(projectArtifacts.testToken.bytecode);
    expect(byName.TestToken?.abi).toEqual(projectArtifacts.testToken.abi);
    expect(byName.PriceFeed?.bytecode).toBe(projectArtifacts.priceFeed.bytecode);
    expect(byName.PriceFeed?.abi).toEqual(projectArtifacts.priceFeed.abi);
    expect(byName.PolicySwapper?.bytecode).toBe(projectArtifacts.policySwapper.bytecode);
    expect(byName.PolicySwapper?.abi).toEqual(projectArtifacts.policySwapper.abi);
  });
});

describe('the typed ABIs the agent calls with', () => {
  it('policySwapperAbi (contracts/abis.ts) is the compiled PolicySwapper, entry for entry', () => {
    const signatures = (abi: Abi) =>
      abi
        .filter((item) => item.type === 'function' || item.type === 'event')
        .map((item) => formatAbiItem(item as AbiFunction | AbiEvent));
    const compiled = signatures(projectArtifacts.policySwapper.abi);
    const typed = signatures(policySwapperAbi);
    expect(typed.length).toBeGreaterThan(0);
    for (const signature of typed) expect(compiled).toContain(signature);
  });
});
