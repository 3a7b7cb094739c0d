import { NotBuiltError } from '../../contracts/errors.ts';

/** Placeholder for a subcommand whose capability has not landed yet: says so and exits 2. */
export function notBuilt(name: string, issue: string): () => never {
  return () => {
    throw new NotBuiltError(`\`pcpflow ${name}\` is not built yet (tracked in ${issue})`);
  };
}
