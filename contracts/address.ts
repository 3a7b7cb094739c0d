import { z } from 'zod';
import { isHost, MAX_ADDRESS_LENGTH, parseAddress, formatAddress, printable } from './address-syntax.ts';
import { InvalidInputError } from './errors.ts';

/**
 * Backend addresses as EFM and pgpool pass them: `host` or `host:port`, with IPv6 in brackets
 * when a port follows. Anything else (spaces, shell metacharacters, control characters) is
 * rejected here so no later stage ever sees it.
 */
export { MAX_ADDRESS_LENGTH, parseAddress, formatAddress, printable } from './address-syntax.ts';

export const HostSchema = z
  .string()
  .min(1, 'host is empty')
  .max(253, 'host is longer than 253 characters')
  .refine(isHost, {
    message: 'not an IPv4 address, IPv6 address or host name',
  });

export const PortSchema = z.number().int().min(1).max(65535);

export const BackendAddressSchema = z.object({
  host: HostSchema,
  port: PortSchema.optional(),
});
export type BackendAddress = z.infer<typeof BackendAddressSchema>;

/** A schema for an address given as text, yielding the canonical text. */
export const AddressTextSchema = z
  .string()
  .max(MAX_ADDRESS_LENGTH, `address is longer than ${MAX_ADDRESS_LENGTH} characters`)
  .transform((text, ctx) => {
    const parsed = parseAddress(text);
    if (!parsed) {
      ctx.addIssue({ code: 'custom', message: `"${printable(text)}" is not host or host:port` });
      return z.NEVER;
    }
    return formatAddress(parsed);
  });

/** An address given on the command line, in canonical form; bad input (exit 2) otherwise. */
export function addressArgument(text: string): string {
  const parsed = parseAddress(text);
  if (!parsed) throw new InvalidInputError(`"${printable(text)}" is not host or host:port (IPv6 as [addr]:port)`);
  return formatAddress(parsed);
}
