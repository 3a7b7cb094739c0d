// Where the hook writes its lines: the process streams in the bundle, a buffer in the tests.

export interface HookIo {
  stderr(line: string): void;
  stdout(line: string): void;
}
