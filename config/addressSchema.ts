import { getAddress, isAddress } from 'viem';
import { z } from 'zod';

/**
 * What is wrong with an address as written, or undefined when it is fine. Like viem and ethers: 0x + 40 hex
 * digits; all-lowercase or all-uppercase hex carries no checksum and is accepted; mixed case is an EIP-55
 * checksum and must be right. The correctly checksummed form is shown (an address is public), with the warning
 * that a typo'd address has one too: the fix is to copy the address again, not to paste that form.
 */
export function addressProblem(value: string): string | undefined {
  if (!isAddress(value, { strict: false })) return 'not an EVM address (0x + 40 hex digits)';
  const hex = value.slice(2);
  if (hex === hex.toLowerCase() || hex === hex.toUpperCase()) return undefined;
  const checksummed = getAddress(value);
  if (value === checksummed) return undefined;
  return (
    'bad EIP-55 checksum: the mixed-case letters do not match, so the address is probably mistyped; copy it ' +
    `again from its source (if the 40 hex digits are right, the checksummed form is ${checksummed})`
  );
}

/** An EVM address in a config or spaces file (see `addressProblem`), normalised to its EIP-55 form. */
export const AddressSchema = z
  .string()
  .superRefine((value, ctx) => {
    const problem = addressProblem(value);
    // Not aborting: the config's other checks still run and report their own problems. Those comparing
    // addresses see this one as written (not normalised): they compare in lowercase.
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .transform((value) => getAddress(value));
