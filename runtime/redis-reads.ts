/**
 * The few Redis reads a one-shot command such as `pcpflow status` makes (a hash, a stream range),
 * as an interface that an ioredis client (worker, console) satisfies as it is, and an
 * implementation over the hooks' small RESP client (hooks/resp.ts) for the commands: ioredis and
 * its ~130 modules cost a command ~45 ms of start-up for three reads.
 */
export interface RedisReads {
  hgetall(key: string): Promise<Record<string, string>>;
  xrange(key: string, start: string, end: string, countToken: 'COUNT', count: number): Promise<[id: string, fields: string[]][]>;
}
