import { execFile } from 'node:child_process';
import { escapeControls } from '../contracts/text.ts';
import type { Logger } from '../runtime/logger.ts';

/**
 * Runs the configured notification command with subject and body as two extra arguments,
 * through execFile (never a shell: the body quotes backend addresses and pgpool messages).
 * A failing notifier is logged, not retried: the error-level log line is the second channel.
 */
export function notify(command: readonly string[] | undefined, rawSubject: string, rawBody: string, logger: Logger): Promise<void> {
  // pgpool's texts are escaped where they are read; this is the last line before a mail or a pager.
  const subject = escapeControls(rawSubject);
  const body = escapeControls(rawBody, { keepNewlines: true });
  logger.error({ subject }, body);
  const [file, ...args] = command ?? [];
  if (!file) return Promise.resolve();
  return new Promise((resolve) => {
    execFile(file, [...args, subject, body], { timeout: 10_000 }, (err) => {
      if (err) logger.error({ err: { message: err.message }, command: file }, 'notification command failed');
      resolve();
    });
  });
}
