import { load, CORE_SCHEMA } from 'js-yaml';

/**
 * The YAML parser the hook loads only for a YAML config; the bundle puts it in its own file
 * (bin/pcpflow-hook-yaml.cjs, CommonJS: no ESM loader). js-yaml rather than the `yaml` package the CLI uses: it loads in
 * ~4 ms instead of ~11 ms, which is the difference between meeting the hook's start-up budget
 * or not. CORE_SCHEMA is YAML 1.2's core schema, what `yaml` parses by default (no timestamps,
 * no merge keys); test/hooks/config.test.ts checks both read the sample configs the same.
 */
export function parse(text: string): unknown {
  return load(text, { schema: CORE_SCHEMA });
}
