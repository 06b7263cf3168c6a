import { createRequire } from 'node:module';
import type { Abi, Hex } from 'viem';
import policySwapper from './solidity/build/PolicySwapper.json' with { type: 'json' };
import priceFeed from './solidity/build/PriceFeed.json' with { type: 'json' };
import testToken from './solidity/build/TestToken.json' with { type: 'json' };

/** A deployable contract: ABI and init code. */
export type Artifact = { contractName: string; abi: Abi; bytecode: Hex };

const require = createRequire(import.meta.url);

function withPrefix(bytecode: string): Hex {
  return (bytecode.startsWith('0x') ? bytecode : `0x${bytecode}`) as Hex;
}

function safeArtifact(path: string): Artifact {
  const json = require(`@safe-global/safe-contracts/build/artifacts/contracts/${path}`) as {
    contractName: string;
    abi: Abi;
    bytecode: string;
  };
  return { contractName: json.contractName, abi: json.abi, bytecode: withPrefix(json.bytecode) };
}

function uniswapArtifact(pkg: 'v2-core' | 'v2-periphery', name: string): Artifact {
  const json = require(`@uniswap/${pkg}/build/${name}.json`) as { abi: Abi; bytecode: string };
  return { contractName: name, abi: json.abi, bytecode: withPrefix(json.bytecode) };
}

/** The Safe v1.4.1 contracts, from the npm artifacts of `@safe-global/safe-contracts@1.4.1`. */
export const safeArtifacts = {
  safeL2: safeArtifact('SafeL2.sol/SafeL2.json'),
  safe: safeArtifact('Safe.sol/Safe.json'),
  proxyFactory: safeArtifact('proxies/SafeProxyFactory.sol/SafeProxyFactory.json'),
  multiSend: safeArtifact('libraries/MultiSend.sol/MultiSend.json'),
  multiSendCallOnly: safeArtifact('libraries/MultiSendCallOnly.sol/MultiSendCallOnly.json'),
  fallbackHandler: safeArtifact('handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json'),
  signMessageLib: safeArtifact('libraries/SignMessageLib.sol/SignMessageLib.json'),
  createCall: safeArtifact('libraries/CreateCall.sol/CreateCall.json'),
  simulateTxAccessor: safeArtifact('accessors/SimulateTxAccessor.sol/SimulateTxAccessor.json'),
};

/** Uniswap V2 from `@uniswap/v2-core` and `@uniswap/v2-periphery` (their bytecode has no 0x prefix). */
export const uniswapArtifacts = {
  factory: uniswapArtifact('v2-core', 'UniswapV2Factory'),
  pair: uniswapArtifact('v2-core', 'UniswapV2Pair'),
  router: uniswapArtifact('v2-periphery', 'UniswapV2Router02'),
  weth9: uniswapArtifact('v2-periphery', 'WETH9'),
};

/** The project's own contracts, compiled by contracts/solidity/compile.ts. */
export const projectArtifacts = {
  testToken: testToken as unknown as Artifact,
  priceFeed: priceFeed as unknown as Artifact,
  policySwapper: policySwapper as unknown as Artifact,
};
