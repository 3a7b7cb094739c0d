import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { packageRoot } from './package-root.ts';
import type { RedisClient } from './redis.ts';

/** `--- @include "other.lua"`, a path relative to the including file: BullMQ's include syntax. */
const INCLUDE = /^--- @include "([^"]+)"[ \t]*$/gm;

function expand(file: string, chain: readonly string[]): string {
  if (chain.includes(file)) throw new Error(`Lua include cycle: ${[...chain, file].join(' → ')}`);
  const text = readFileSync(file, 'utf8');
  return text.replace(INCLUDE, (_line, rel: string) => expand(resolve(dirname(file), rel), [...chain, file]));
}

/** One Lua script kept in a .lua file of the package, run as an ioredis custom command. */
export interface LuaCommand {
  /** The ioredis method name the script gets on a client. */
  readonly name: string;
  /** Path from the package root; the package ships the .lua files, so built JavaScript finds them too. */
  readonly file: string;
  readonly numberOfKeys: number;
}

const sources = new Map<string, string>();
const definedOn = new WeakMap<RedisClient, Set<string>>();

/**
 * Lua lives in .lua files, as BullMQ keeps its scripts apart from TypeScript; a fragment two
 * scripts share is written once and pulled in at load time with `--- @include`. The source is
 * read on first use, so a command that never touches Redis never reads a script.
 */
export function luaSource(file: string): string {
  let text = sources.get(file);
  if (text === undefined) {
    text = expand(join(packageRoot(), file), []);
    sources.set(file, text);
  }
  return text;
}

/**
 * Defines the script on this client once (ioredis then sends EVALSHA and falls back to EVAL on
 * NOSCRIPT, e.g. after a Redis restart emptied the script cache) and returns the client.
 */
export function withLuaCommand<C extends RedisClient>(redis: C, command: LuaCommand): C {
  let names = definedOn.get(redis);
  if (!names) {
    names = new Set();
    definedOn.set(redis, names);
  }
  if (!names.has(command.name)) {
    redis.defineCommand(command.name, { lua: luaSource(command.file), numberOfKeys: command.numberOfKeys });
    names.add(command.name);
  }
  return redis;
}
