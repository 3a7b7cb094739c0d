// js-yaml ships no types and @types/js-yaml is not installed; this is the part the hook uses.
declare module 'js-yaml' {
  export const CORE_SCHEMA: unknown;
  export function load(text: string, options?: { schema?: unknown; filename?: string }): unknown;
}
