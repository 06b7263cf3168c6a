import { describe, expect, it } from 'vitest';
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
