import { parseAbi } from 'viem';

/** The small read/write surfaces the agent uses; full artifacts are only needed to deploy. */
export const erc20Abi = parseAbi([
  'event Transfer(address indexed from, address indexed to, uint256 value)',
  'function balanceOf(address owner) view returns (uint256)',
  'function decimals() view returns (uint8)',
  'function symbol() view returns (string)',
  'function allowance(address owner, address spender) view returns (uint256)',
  'function approve(address spender, uint256 value) returns (bool)',
  'function transfer(address to, uint256 value) returns (bool)',
]);

export const aggregatorV3Abi = parseAbi([
  'function decimals() view returns (uint8)',
  'function description() view returns (string)',
  'function latestRoundData() view returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)',
  'function updateAnswer(int256 answer)',
  'function updateAnswerAt(int256 answer, uint256 updatedAt)',
]);

export const uniswapV2PairAbi = parseAbi([
  'function getReserves() view returns (uint112 reserve0, uint112 reserve1, uint32 blockTimestampLast)',
  'function token0() view returns (address)',
  'function token1() view returns (address)',
  'function swap(uint256 amount0Out, uint256 amount1Out, address to, bytes data)',
  'function sync()',
]);

export const uniswapV2FactoryAbi = parseAbi([
  'function getPair(address tokenA, address tokenB) view returns (address pair)',
]);

export const uniswapV2RouterAbi = parseAbi([
  'function factory() view returns (address)',
  'function getAmountsOut(uint256 amountIn, address[] path) view returns (uint256[] amounts)',
  'function swapExactTokensForTokens(uint256 amountIn, uint256 amountOutMin, address[] path, address to, uint256 deadline) returns (uint256[] amounts)',
  'function swapExactTokensForTokensSupportingFeeOnTransferTokens(uint256 amountIn, uint256 amountOutMin, address[] path, address to, uint256 deadline)',
]);

export const safeAbi = parseAbi([
  'function nonce() view returns (uint256)',
  'function getThreshold() view returns (uint256)',
  'function getOwners() view returns (address[])',
  'function isOwner(address owner) view returns (bool)',
  'function VERSION() view returns (string)',
  'function getModulesPaginated(address start, uint256 pageSize) view returns (address[] array, address next)',
  'function getTransactionHash(address to, uint256 value, bytes data, uint8 operation, uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, address refundReceiver, uint256 _nonce) view returns (bytes32)',
  'function execTransaction(address to, uint256 value, bytes data, uint8 operation, uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, address refundReceiver, bytes signatures) payable returns (bool success)',
  'function getModulesPaginated(address start, uint256 pageSize) view returns (address[] array, address next)',
  'event ExecutionSuccess(bytes32 indexed txHash, uint256 payment)',
  'event ExecutionFailure(bytes32 indexed txHash, uint256 payment)',
]);

/**
 * PolicySwapper (contracts/solidity/PolicySwapper.sol): the price policy voters approve, enforced on chain.
 * Typed here for viem; a test compares it with the compiled artifact. Errors are decoded with the artifact.
 */
export const policySwapperAbi = parseAbi([
  'struct PricePolicy { address feedIn; address feedOut; uint8 feedDecimals; uint32 maxFeedAge; uint16 slippageBps; uint256 floorPrice; }',
  'struct Order { address tokenIn; address tokenOut; uint256 amountIn; PricePolicy policy; }',
  'struct Decision { bytes32 decisionHash; address router; uint64 validAfter; uint64 validUntil; Order[] orders; }',
  'function execute(Decision decision)',
  'function executed(address caller, bytes32 decisionHash) view returns (bool)',
  'function quote(Order order) view returns (uint256 oraclePrice, uint256 requiredOut)',
  'function checkPrice(uint256 amountIn, address fromToken, address toToken, uint256 feeAmount, uint256 minOut, bytes data) view returns (bool)',
  'event DecisionExecuted(address indexed caller, bytes32 indexed decisionHash, uint256 orders)',
  'event PolicySwap(address indexed caller, bytes32 indexed decisionHash, uint256 indexed index, address tokenIn, address tokenOut, uint256 amountIn, uint256 oraclePrice, uint256 minOut, uint256 amountOut)',
]);
