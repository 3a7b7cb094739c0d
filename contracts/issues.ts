import type * as z from 'zod/mini';

/**
 * One problem found by a zod/mini schema, in words: the message its check names, else the generic
 * issue worded here (zod/mini carries no message locale; loading one costs start-up time), close
 * to how zod classic words it, so every reader names a problem alike.
 */
export function describeIssue(i: z.core.$ZodIssue): string {
  if (i.message !== '' && i.message !== 'Invalid input') return i.message;
  switch (i.code) {
    case 'unrecognized_keys':
      return `unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k.slice(0, 64)}"`).join(', ')}`;
    case 'invalid_type':
      return `expected ${i.expected}`;
    case 'invalid_value':
      return `must be one of ${i.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      return i.origin === 'array' || i.origin === 'string'
        ? `needs at least ${String(i.minimum)} ${i.origin === 'array' ? 'item(s)' : 'character(s)'}`
        : `must be ${i.inclusive ? 'at least' : 'more than'} ${String(i.minimum)}`;
    case 'too_big':
      return i.origin === 'array' || i.origin === 'string'
        ? `at most ${String(i.maximum)} ${i.origin === 'array' ? 'item(s)' : 'character(s)'}`
        : `must be ${i.inclusive ? 'at most' : 'less than'} ${String(i.maximum)}`;
    default:
      return i.message;
  }
}
